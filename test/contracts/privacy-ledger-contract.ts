import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import {
  type PrivacyLedger,
  PrivacyBudgetExceededError,
  type ReleaseRequest,
} from '../../src/privacy/privacy-ledger.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

/** A name no other test (or earlier run against a shared database) has used. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** A release request as an export would make it; `overrides` set the spend, the pair… */
export function sampleRelease(overrides: Partial<ReleaseRequest> = {}): ReleaseRequest {
  return {
    id: uniqueName('release'),
    dataset: 'ratings',
    recipient: 'partner',
    policy: 'partner-counts',
    mechanism: 'discrete-gaussian',
    spend: { rho: 0.01 },
    params: { bounds: [0, 5], threshold: 12, columns: ['genre'] },
    actor: 'alice ✓',
    ...overrides,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

/**
 * The conformance suite of the {@link PrivacyLedger} every metadata store backend carries:
 * releases compose and the one that would overspend is refused with the figures and leaves
 * nothing behind; pure ε counts as ε²/2 against a ρ budget; ε-only and δ budgets; retries by id
 * spend nothing; publishing is idempotent; totals, get and list; isolation per dataset and per
 * recipient; concurrent reservations never overspend. `create` returns a new, migrated store;
 * every test uses datasets of its own, so stores may share a database.
 */
export function describePrivacyLedger(name: string, create: () => Promise<MetadataStore>): void {
  describe(`PrivacyLedger contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async (): Promise<{ ledger: PrivacyLedger; dataset: string }> => {
      store = await create();
      return { ledger: store.privacyLedger, dataset: uniqueName('ds') };
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('composes ρ releases and refuses the one that would overspend, with the figures, recording nothing', async () => {
      const { ledger, dataset } = await open();
      const budget = { rho: 0.015 };
      for (let k = 0; k < 3; k++) {
        const r = await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.005 } }), budget);
        expect(r.existing).toBe(false);
        expect(r.totals.releases).toBe(k + 1);
        expect(r.totals.rho).toBeCloseTo(0.005 * (k + 1), 12);
      }
      const refused = sampleRelease({ dataset, spend: { rho: 0.001 } });
      const error = await rejection(ledger.reserve(refused, budget));
      expect(error).toBeInstanceOf(PrivacyBudgetExceededError);
      expect(error).toBeInstanceOf(ConflictError);
      const e = error as PrivacyBudgetExceededError;
      expect([e.unit, e.dataset, e.recipient]).toEqual(['rho', dataset, 'partner']);
      expect(e.spent).toBeCloseTo(0.015, 12);
      expect(e.requested).toBe(0.001);
      expect(e.allowed).toBe(0.015);
      expect(e.message).toContain('spent 0.015');
      expect(e.message).toContain('this release 0.001');
      expect(e.message).toContain('budget 0.015');
      expect(await ledger.get(refused.id)).toBeNull();
      expect((await ledger.totals(dataset, 'partner')).releases).toBe(3);
    });

    it('counts a pure ε release as ε²/2 against a ρ budget', async () => {
      const { ledger, dataset } = await open();
      const pure = sampleRelease({
        dataset,
        mechanism: 'discrete-laplace',
        spend: { epsilon: 0.2 },
      });
      const r = await ledger.reserve(pure, { rho: 0.03 });
      expect(r.totals).toMatchObject({ epsilon: 0.2, rho: 0, releases: 1 });
      expect(r.totals.rhoEquivalent).toBeCloseTo(0.02, 12);
      await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01 } }), { rho: 0.03 });
      const t = await ledger.totals(dataset, 'partner');
      expect(t.rhoEquivalent).toBeCloseTo(0.03, 12);
      const e = await rejection(
        ledger.reserve(sampleRelease({ dataset, spend: { epsilon: 0.1 } }), { rho: 0.03 }),
      );
      expect(e).toBeInstanceOf(PrivacyBudgetExceededError);
      expect((e as PrivacyBudgetExceededError).unit).toBe('rho');
      expect((e as PrivacyBudgetExceededError).requested).toBeCloseTo(0.005, 12);
    });

    it('adds pure ε under an ε-only budget and refuses a zCDP release there', async () => {
      const { ledger, dataset } = await open();
      const budget = { epsilon: 1 };
      await ledger.reserve(sampleRelease({ dataset, spend: { epsilon: 0.6 } }), budget);
      await ledger.reserve(sampleRelease({ dataset, spend: { epsilon: 0.4 } }), budget);
      const over = await rejection(
        ledger.reserve(sampleRelease({ dataset, spend: { epsilon: 0.01 } }), budget),
      );
      expect(over).toBeInstanceOf(PrivacyBudgetExceededError);
      expect((over as PrivacyBudgetExceededError).unit).toBe('epsilon');
      expect((over as PrivacyBudgetExceededError).spent).toBeCloseTo(1, 12);
      const zcdp = await rejection(
        ledger.reserve(sampleRelease({ dataset: uniqueName('ds'), spend: { rho: 0.01 } }), budget),
      );
      expect(zcdp).toBeInstanceOf(InvalidArgumentError);
      expect((zcdp as InvalidArgumentError).field).toBe('budget');
      // A release that spends nothing (k-anonymity) fits any budget.
      const free = await ledger.reserve(
        sampleRelease({ dataset, mechanism: 'k-anonymity', spend: {} }),
        budget,
      );
      expect(free.totals.releases).toBe(3);
      expect(free.release.spend).toEqual({});
    });

    it('lets a budget without epsilon or rho through releases that spend nothing, and nothing else', async () => {
      const { ledger, dataset } = await open();
      const records = sampleRelease({ dataset, mechanism: 'k-anonymity', spend: {} });
      expect((await ledger.reserve(records, {})).totals.releases).toBe(1);
      for (const spend of [{ rho: 0.001 }, { epsilon: 0.001 }]) {
        const e = await rejection(ledger.reserve(sampleRelease({ dataset, spend }), {}));
        expect(e).toBeInstanceOf(PrivacyBudgetExceededError);
        expect((e as PrivacyBudgetExceededError).allowed).toBe(0);
      }
      // Spent past a budget (lowered since): a release spending nothing still passes.
      await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.05 } }), { rho: 0.05 });
      await ledger.reserve(sampleRelease({ dataset, spend: {} }), { rho: 0.01 });
      expect((await ledger.totals(dataset, 'partner')).releases).toBe(3);
    });

    it('caps the sum of δ, at 0 when the budget gives none', async () => {
      const { ledger, dataset } = await open();
      const none = await rejection(
        ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01, delta: 1e-9 } }), {
          rho: 1,
        }),
      );
      expect(none).toBeInstanceOf(PrivacyBudgetExceededError);
      expect((none as PrivacyBudgetExceededError).unit).toBe('delta');
      expect((none as PrivacyBudgetExceededError).allowed).toBe(0);
      const budget = { rho: 1, delta: 2e-6 };
      await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01, delta: 1e-6 } }), budget);
      await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01, delta: 1e-6 } }), budget);
      const over = await rejection(
        ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01, delta: 1e-6 } }), budget),
      );
      expect((over as PrivacyBudgetExceededError).unit).toBe('delta');
      expect((over as PrivacyBudgetExceededError).spent).toBeCloseTo(2e-6, 18);
      // δ spent out does not stop a release without δ.
      await ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01 } }), budget);
      expect(await ledger.totals(dataset, 'partner')).toMatchObject({ releases: 3 });
      expect((await ledger.totals(dataset, 'partner')).delta).toBeCloseTo(2e-6, 18);
    });

    it('returns a retried id as it is, spending nothing more, and refuses it for another pair', async () => {
      const { ledger, dataset } = await open();
      const release = sampleRelease({ dataset, spend: { rho: 0.06 } });
      const first = await ledger.reserve(release, { rho: 0.1 });
      // The retry would overspend if it counted again; it must not even be checked.
      const retry = await ledger.reserve({ ...release, actor: 'bob' }, { rho: 0.1 });
      expect(retry.existing).toBe(true);
      expect(retry.release).toEqual(first.release);
      expect(retry.totals).toEqual(first.totals);
      expect(retry.totals.releases).toBe(1);
      const elsewhere = await rejection(
        ledger.reserve({ ...release, recipient: 'someone-else' }, { rho: 1 }),
      );
      expect(elsewhere).toBeInstanceOf(ConflictError);
      expect(elsewhere).not.toBeInstanceOf(PrivacyBudgetExceededError);
      expect(await ledger.list({ dataset })).toHaveLength(1);
    });

    it('marks a release published, idempotently', async () => {
      const { ledger, dataset } = await open();
      const release = sampleRelease({ dataset });
      const { release: reserved } = await ledger.reserve(release, { rho: 1 });
      expect(reserved).toMatchObject({ status: 'reserved', output: null, publishedAt: null });
      const published = await ledger.markPublished(release.id, 'exports/ratings/counts.parquet');
      expect(published).toMatchObject({
        status: 'published',
        output: 'exports/ratings/counts.parquet',
      });
      expect(published.publishedAt).toBeInstanceOf(Date);
      expect(published.publishedAt!.getTime()).toBeGreaterThanOrEqual(reserved.createdAt.getTime());
      expect(await ledger.markPublished(release.id, 'exports/ratings/counts.parquet')).toEqual(
        published,
      );
      expect(await ledger.get(release.id)).toEqual(published);
      expect(await rejection(ledger.markPublished(release.id, 'elsewhere'))).toBeInstanceOf(
        ConflictError,
      );
      expect(await rejection(ledger.markPublished(uniqueName('missing'), 'x'))).toBeInstanceOf(
        NotFoundError,
      );
      // Published releases still count.
      expect((await ledger.totals(dataset, 'partner')).releases).toBe(1);
    });

    it('reads releases back exactly, and lists them newest first by dataset and recipient', async () => {
      const { ledger, dataset } = await open();
      expect(await ledger.totals(dataset, 'partner')).toEqual({
        epsilon: 0,
        rho: 0,
        rhoEquivalent: 0,
        delta: 0,
        releases: 0,
      });
      expect(await ledger.list({ dataset })).toEqual([]);
      const ids: string[] = [];
      for (let k = 0; k < 4; k++) {
        const release = sampleRelease({
          id: `${dataset}-${k}`,
          dataset,
          recipient: k % 2 === 0 ? 'even' : 'odd',
          spend: { rho: 0.01, delta: k === 3 ? 1e-7 : undefined },
          params: { k, nested: { ok: true, list: [1, 'two', null] } },
        });
        const before = Date.now();
        const { release: recorded } = await ledger.reserve(release, { rho: 1, delta: 1e-6 });
        const { spend, ...rest } = release;
        expect(recorded).toMatchObject({ ...rest, status: 'reserved', output: null });
        expect(recorded.spend).toEqual(k === 3 ? { rho: 0.01, delta: 1e-7 } : { rho: 0.01 });
        expect(recorded.createdAt.getTime()).toBeGreaterThanOrEqual(before);
        expect(await ledger.get(release.id)).toEqual(recorded);
        ids.push(release.id);
      }
      // Newest first; releases made within one millisecond fall back to the id, which grows with
      // k here too, so the order is the same either way (no sleeping between them).
      expect((await ledger.list({ dataset })).map((r) => r.id)).toEqual([...ids].reverse());
      expect((await ledger.list({ dataset, recipient: 'odd' })).map((r) => r.id)).toEqual([
        ids[3],
        ids[1],
      ]);
      expect((await ledger.list({ dataset, limit: 1 })).map((r) => r.id)).toEqual([ids[3]]);
      expect((await ledger.list({ limit: 2 })).length).toBeLessThanOrEqual(2);
      expect(await ledger.get(uniqueName('missing'))).toBeNull();
      const odd = await ledger.totals(dataset, 'odd');
      expect(odd).toMatchObject({ epsilon: 0, delta: 1e-7, releases: 2 });
      expect(odd.rho).toBeCloseTo(0.02, 12);
    });

    it('keeps each dataset × recipient to its own budget', async () => {
      const { ledger, dataset } = await open();
      const other = uniqueName('ds');
      const budget = { rho: 0.01 };
      await ledger.reserve(sampleRelease({ dataset, recipient: 'a' }), budget);
      // Another recipient of the same dataset, and the same recipient of another dataset, start afresh.
      await ledger.reserve(sampleRelease({ dataset, recipient: 'b' }), budget);
      await ledger.reserve(sampleRelease({ dataset: other, recipient: 'a' }), budget);
      for (const [d, r] of [
        [dataset, 'a'],
        [dataset, 'b'],
        [other, 'a'],
      ] as const) {
        expect(
          await rejection(ledger.reserve(sampleRelease({ dataset: d, recipient: r }), budget)),
        ).toBeInstanceOf(PrivacyBudgetExceededError);
        expect((await ledger.totals(d, r)).releases).toBe(1);
      }
    });

    it('lets exactly as many concurrent reservations through as the budget holds', async () => {
      const { ledger, dataset } = await open();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          ledger.reserve(sampleRelease({ dataset, spend: { rho: 0.01 } }), { rho: 0.1 }),
        ),
      );
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(10);
      for (const o of refused) expect(o.reason).toBeInstanceOf(PrivacyBudgetExceededError);
      const totals = await ledger.totals(dataset, 'partner');
      expect(totals.releases).toBe(10);
      expect(totals.rho).toBeLessThanOrEqual(0.1 * (1 + 1e-12));
    });

    it('refuses malformed requests and budgets, naming the field, before recording anything', async () => {
      const { ledger, dataset } = await open();
      const field = async (p: Promise<unknown>) => {
        const error = await rejection(p);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as InvalidArgumentError).field;
      };
      const ok = { rho: 1 };
      expect(
        await field(ledger.reserve(sampleRelease({ dataset, spend: { rho: -0.1 } }), ok)),
      ).toBe('spend.rho');
      expect(
        await field(ledger.reserve(sampleRelease({ dataset, spend: { epsilon: Number.NaN } }), ok)),
      ).toBe('spend.epsilon');
      expect(
        await field(
          ledger.reserve(
            sampleRelease({ dataset, spend: { delta: Number.POSITIVE_INFINITY } }),
            ok,
          ),
        ),
      ).toBe('spend.delta');
      expect(
        await field(ledger.reserve(sampleRelease({ dataset, spend: { epsilon: 1, rho: 1 } }), ok)),
      ).toBe('spend');
      expect(await field(ledger.reserve(sampleRelease({ dataset }), { rho: -1 }))).toBe(
        'budget.rho',
      );
      expect(await field(ledger.reserve(sampleRelease({ dataset }), { epsilon: Number.NaN }))).toBe(
        'budget.epsilon',
      );
      expect(await field(ledger.reserve(sampleRelease({ dataset }), null as never))).toBe('budget');
      expect(await field(ledger.reserve(sampleRelease({ dataset, id: '' }), ok))).toBe('id');
      expect(await field(ledger.reserve(sampleRelease({ dataset: '' }), ok))).toBe('dataset');
      expect(await field(ledger.reserve(sampleRelease({ dataset, actor: '' }), ok))).toBe('actor');
      expect(
        await field(
          ledger.reserve(sampleRelease({ dataset, params: { at: new Date() } as never }), ok),
        ),
      ).toBe('params.at');
      expect(await field(ledger.list({ limit: 0 }))).toBe('limit');
      expect(await ledger.list({ dataset })).toEqual([]);
    });
  });
}
