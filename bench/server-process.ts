/**
 * Servers in processes of their own for the latency benchmarks (as in production, so the
 * benchmark's own heap and event loop stay out of the figures), and their CPU time from /proc.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** A started server process. */
export interface ServerProcess {
  url: string;
  pid: number;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs `node --import tsx ARGS…` and resolves once its stdout matches `ready`, whose first group
 * is the server's URL. @throws when the process exits first, with its stderr
 */
export async function startServerProcess(args: string[], ready: RegExp): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`${args.join(' ')} exited: ${stderr}`)));
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) process `pid` has used, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
