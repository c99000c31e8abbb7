/**
 * Buffers lent down a stream, to be given back when the stage that holds them last is done with
 * them: the run's tee copies the save's bytes into 1 MiB blocks it uses again once the gzip
 * stage has compressed them. A GiB passing through then allocates a few dozen MiB, not a GiB:
 * each fresh buffer is external memory to V8, and a GiB of it that lives a few milliseconds
 * too long brings on a full collection every 64 MiB.
 *
 * A stage that does not know about lending just drops the buffer: it is then garbage like any
 * other, and the lender allocates a new one.
 */
const lenders = new WeakMap<Buffer, () => void>();

/** Lend `buf`: `back` is called once when a stage gives it back. */
export function lend(buf: Buffer, back: () => void): Buffer {
  lenders.set(buf, back);
  return buf;
}

/** The stage is done with `buf` (its bytes are no longer read): the lender may use it again. */
export function giveBack(buf: Buffer): void {
  const back = lenders.get(buf);
  if (!back) return;
  lenders.delete(buf);
  back();
}
