import { createScratch, solveRows, type HalfStep, type Scratch } from './als-kernel.js';

let scratch: Scratch | undefined;

/** A worker-thread task: solve rows `start..end` of a half-step held in shared memory. */
export default function solveRange(task: { step: HalfStep; start: number; end: number }): number {
  if (scratch === undefined || scratch.r.length !== task.step.factors)
    scratch = createScratch(task.step.factors);
  solveRows(task.step, task.start, task.end, scratch);
  return task.end - task.start;
}
