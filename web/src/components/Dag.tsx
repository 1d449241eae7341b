import type { TaskState } from '../types.js';

/** One node of the graph: a task, what it needs, and its state (absent: not run yet). */
export interface DagTask {
  name: string;
  kind: string;
  needs: string[];
  state?: TaskState;
}

const NODE_W = 168;
const NODE_H = 48;
const COL_GAP = 72;
const ROW_GAP = 20;
const PAD = 12;

interface Placed extends DagTask {
  x: number;
  y: number;
}

/**
 * Layered layout: a task's column is the length of the longest chain of needs before it, so
 * every edge points right. Within a column tasks are ordered by the mean row of what they need
 * (one barycentre pass), which removes most crossings in the small graphs workflows have.
 */
export function layoutDag(tasks: DagTask[]): { nodes: Placed[]; width: number; height: number } {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    // Definitions are validated acyclic; the guard only keeps a bad one from hanging the page.
    if (seen.has(name)) return 0;
    seen.add(name);
    const needs = byName.get(name)?.needs.filter((n) => byName.has(n)) ?? [];
    const d = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => depthOf(n, seen)));
    depth.set(name, d);
    return d;
  };
  const columns: DagTask[][] = [];
  for (const t of tasks) (columns[depthOf(t.name, new Set())] ??= []).push(t);

  const row = new Map<string, number>();
  columns.forEach((column, c) => {
    if (c > 0) {
      const centre = (t: DagTask) => {
        const rows = t.needs.map((n) => row.get(n)).filter((r): r is number => r !== undefined);
        return rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length;
      };
      column.sort((a, b) => centre(a) - centre(b));
    }
    column.forEach((t, r) => row.set(t.name, r));
  });

  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP;
  const nodes: Placed[] = [];
  columns.forEach((column, c) => {
    // Centre short columns vertically against the tallest one.
    const offset = (height - (column.length * NODE_H + (column.length - 1) * ROW_GAP)) / 2;
    column.forEach((t, r) =>
      nodes.push({ ...t, x: PAD + c * (NODE_W + COL_GAP), y: offset + r * (NODE_H + ROW_GAP) }),
    );
  });
  const width = PAD * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * COL_GAP;
  return { nodes, width, height };
}

/** The workflow's DAG as SVG, nodes coloured by task state; clicking a node selects the task. */
export function Dag({
  tasks,
  selected,
  onSelect,
}: {
  tasks: DagTask[];
  selected?: string | null;
  onSelect?: (task: string) => void;
}) {
  const { nodes, width, height } = layoutDag(tasks);
  const at = new Map(nodes.map((n) => [n.name, n]));
  return (
    <div className="dag-scroll">
      <svg
        className="dag"
        data-testid="dag"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label="task graph"
      >
        <defs>
          <marker
            id="dag-arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {nodes.flatMap((n) =>
          n.needs.map((need) => {
            const from = at.get(need);
            if (from === undefined) return null;
            const x1 = from.x + NODE_W;
            const y1 = from.y + NODE_H / 2;
            const x2 = n.x - 2;
            const y2 = n.y + NODE_H / 2;
            const mid = (x1 + x2) / 2;
            return (
              <path
                key={`${need}->${n.name}`}
                className="dag-edge"
                d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`}
                markerEnd="url(#dag-arrow)"
              />
            );
          }),
        )}
        {nodes.map((n) => {
          const state = n.state ?? 'none';
          return (
            <g
              key={n.name}
              className={`dag-node state-${state}${selected === n.name ? ' selected' : ''}${onSelect ? ' clickable' : ''}`}
              transform={`translate(${n.x}, ${n.y})`}
              data-testid={`dag-node-${n.name}`}
              data-state={state}
              onClick={onSelect ? () => onSelect(n.name) : undefined}
            >
              <title>{`${n.name} (${n.kind})${n.state ? `: ${n.state}` : ''}`}</title>
              <rect width={NODE_W} height={NODE_H} rx={8} />
              <text x={12} y={20} className="dag-name">
                {n.name.length > 20 ? `${n.name.slice(0, 19)}…` : n.name}
              </text>
              <text x={12} y={37} className="dag-sub">
                {n.kind}
                {n.state ? ` · ${n.state.replace('_', ' ')}` : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
