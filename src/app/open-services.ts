/**
 * Opens what the services of a configuration (issue 22, `services:` in kiban.yaml) serve from,
 * for the serve and all-in-one roles: each service's serving store (its own namespace), its
 * interactions (the metadata store's log seen as the service's) and its user state.
 *
 * @module
 */
import type { Logger } from '../core/log.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ServiceServing } from '../serving/service-routes.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { UserStateStore } from '../storage/user-state-store.js';
import { openServingStore } from './backends.js';
import { openUserStateStore } from './open-user-state-store.js';
import { DEFAULT_SERVICE_NAME, listServices, type ServicesConfig } from './services.js';

/** The services besides `default`, opened; `close()` closes what was opened, once. */
export interface OpenedServices {
  /** For `createServingApp({ services })`, in configuration order. */
  services: ServiceServing[];
  close(): Promise<void>;
}

/**
 * Opens every service of `config` but `default` (whose stores the role opens as always): its
 * serving store from its resolved `stores.serving`, its interactions as
 * `metadata.interactions.forService(name)`, the model records from `metadata`, and its user state
 * beside its serving store (`openUserStateStore`). When the user state store cannot be opened for
 * a reason other than a bad URL, the service serves without it and `logger` warns. When anything
 * else fails, what was opened is closed before the error is rethrown.
 * @throws InvalidArgumentError naming `services.NAME.stores.serving` for a URL no store takes
 */
export async function openServices(
  config: ServicesConfig,
  deps: { metadata: MetadataStore; logger?: Logger },
): Promise<OpenedServices> {
  const closers: Array<() => Promise<void>> = [];
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= Promise.allSettled(closers.reverse().map((c) => c())).then(() => undefined));
  const services: ServiceServing[] = [];
  try {
    for (const service of listServices(config)) {
      if (service.name === DEFAULT_SERVICE_NAME) continue;
      const field = `services.${service.name}.stores.serving`;
      const url = service.pipeline.stores.serving;
      const serving: ServingStore = await openServingStore(url, field);
      closers.push(() => serving.close());
      const userState = await openUserState(url, field, service.name, deps.logger);
      if (userState !== undefined) closers.push(() => userState.close());
      services.push({
        name: service.name,
        serving,
        metadata: deps.metadata,
        interactions: deps.metadata.interactions.forService(service.name),
        ...(userState === undefined ? {} : { userState }),
        ...(service.pipeline.recommend === undefined
          ? {}
          : { recommend: service.pipeline.recommend }),
      });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { services, close };
}

/**
 * Opens the user state store (hidden and seen items) beside the serving store at `url`
 * (`openUserStateStore`), for service `name`. When it cannot be opened for a reason other than a
 * bad URL, resolves to undefined (the service serves without user state) and `logger` warns.
 * @throws InvalidArgumentError naming `field` for a URL no user state store takes
 */
export async function openUserState(
  url: string,
  field: string,
  name: string,
  logger: Logger | undefined,
): Promise<UserStateStore | undefined> {
  try {
    return await openUserStateStore(url, {}, field);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    logger?.warn(
      { service: name, err: (error as Error).message },
      'service serves without user state (hidden and seen items)',
    );
    return undefined;
  }
}

/**
 * `metadata` as service `service`'s pipeline sees it: the same store, but `interactions` is the
 * service's log (`forService`), so that the aggregate step reads only the service's API events.
 * Closing it closes `metadata`; the caller keeps owning `metadata`.
 */
export function metadataForService(metadata: MetadataStore, service: string): MetadataStore {
  if (service === DEFAULT_SERVICE_NAME) return metadata;
  const interactions = metadata.interactions.forService(service);
  return new Proxy(metadata, {
    get(target, property) {
      if (property === 'interactions') return interactions;
      const value: unknown = Reflect.get(target, property, target);
      // Methods run on the store itself (its private fields are not the proxy's).
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
