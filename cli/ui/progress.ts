/**
 * Progress on stderr, only on a terminal: a bar with size, rate and time left for work of known size,
 * a spinner otherwise. Nothing at all is written when stderr is not a terminal (pipes, CI, tests).
 */
import { formatBytes, formatDuration } from './format.ts';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 80;
const BAR_WIDTH = 24;

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** What `done`/`total` count: bytes are shown as sizes. @default 'bytes' */
  unit?: 'bytes' | 'items';
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private readonly unit: 'bytes' | 'items';
  private label = '';
  private total: number | undefined;
  private done = 0;
  private started = Date.now();
  private frame = 0;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = this.stream.isTTY === true && process.env.TERM !== 'dumb' && process.env.CI === undefined;
    this.unit = options.unit ?? 'bytes';
  }

  /** Starts (or restarts) the display for a new piece of work. `total` undefined shows a spinner. */
  start(label: string, total?: number): void {
    this.label = label;
    this.total = total;
    this.done = 0;
    this.started = Date.now();
    if (!this.enabled) return;
    this.timer ??= setInterval(() => this.draw(true), REDRAW_MS);
    this.timer.unref();
    this.draw(true);
  }

  set(done: number, label?: string): void {
    this.done = done;
    if (label !== undefined) this.label = label;
    this.draw(false);
  }

  add(amount: number): void {
    this.set(this.done + amount);
  }

  /** Switches to a spinner for a phase without measurable progress. */
  phase(label: string): void {
    this.start(label);
  }

  /** Clears the line; what the command prints next takes its place. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled) this.stream.write('\r\x1b[2K');
  }

  private amount(n: number): string {
    return this.unit === 'bytes' ? formatBytes(n) : String(n);
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const width = this.stream.columns ?? 80;
    let text: string;
    if (this.total === undefined || this.total === 0) {
      this.frame = (this.frame + 1) % FRAMES.length;
      const elapsed = now - this.started;
      text = `${FRAMES[this.frame]} ${this.label}${this.done ? ` ${this.amount(this.done)}` : ''}${elapsed > 1000 ? `  ${formatDuration(elapsed)}` : ''}`;
    } else {
      const ratio = Math.min(1, this.done / this.total);
      const filled = Math.round(ratio * BAR_WIDTH);
      const elapsed = (now - this.started) / 1000;
      const rate = elapsed > 0.2 ? this.done / elapsed : 0;
      const left = rate > 0 ? ((this.total - this.done) / rate) * 1000 : undefined;
      const rateText = rate > 0 && this.unit === 'bytes' ? `  ${formatBytes(rate)}/s` : '';
      const eta = left !== undefined && ratio < 1 && elapsed > 1 ? `  ${formatDuration(left)} left` : '';
      text = `${this.label} ▕${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}▏ ${Math.floor(ratio * 100)}%  ${this.amount(this.done)}/${this.amount(this.total)}${rateText}${eta}`;
    }
    this.stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
  }
}
