/**
 * A vitest reporter for CI logs (used when CI=true, beside the default one): a line when a
 * test file starts, and one for any test still running after a minute. The default reporter
 * prints a file only when it ends, so a file that never ends left no trace of itself; with
 * these lines the end of the log names the file and the test that hang.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

const SLOW_MS = 60_000;

export default class ProgressReporter implements Reporter {
  private readonly running = new Map<string, { name: string; since: number; told: boolean }>();
  private timer: NodeJS.Timeout | undefined;

  onTestRunStart(): void {
    this.timer = setInterval(() => this.tellSlow(), 15_000);
    this.timer.unref();
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
  }

  onTestModuleStart(module: TestModule): void {
    process.stdout.write(`▶ ${module.relativeModuleId} (${new Date().toISOString()})\n`);
  }

  onTestCaseReady(test: TestCase): void {
    this.running.set(test.id, { name: `${test.module.relativeModuleId} > ${test.fullName}`, since: Date.now(), told: false });
  }

  onTestCaseResult(test: TestCase): void {
    this.running.delete(test.id);
  }

  private tellSlow(): void {
    const now = Date.now();
    for (const t of this.running.values()) {
      if (t.told || now - t.since < SLOW_MS) continue;
      t.told = true;
      process.stdout.write(`… still running after ${Math.round((now - t.since) / 1000)} s: ${t.name}\n`);
    }
  }
}
