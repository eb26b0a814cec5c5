// How tipd's Node.js process is started: every way of running tipd (npm start, the Dockerfile, the
// regtest stack, the benchmarks) uses these, and a unit test checks that the first two agree.
//
// None of them is a limit: they make the garbage collector and malloc give memory back sooner.
// A period close of a million flattrs allocates about 6 GB of short-lived objects while its live
// heap stays near 30 MB. Without these settings its peak RSS is about 550 MiB, mostly garbage
// that V8 had not yet needed to collect; with them it is about half that, at about the same speed
// (the README's benchmark table has the measured figures).
// They cost some throughput: over HTTP (bench/http.ts) about 10% with 100 connections and 15–20%
// with 500, in the ledger alone (bench/ledger.ts) about 15%.
// (A hard heap cap, `--max-old-space-size`, would do the same but could end a daemon whose live
// heap grows, so tipd does not set one.)

/** Node.js options, before the script. */
export const nodeFlags = [
  // The young generation: 2 × 16 MiB semi-spaces instead of V8's default of 2 × 32 MiB on a
  // machine with a few GB of memory. Short-lived objects die there just the same. (2 × 8 MiB
  // saves another 10–15 MiB in a close but costs about a fifth more of the HTTP throughput with
  // 500 connections: with hundreds of requests in flight, their objects no longer die young.)
  '--max-semi-space-size=16',
  // The old generation is collected when it has grown by half since the last collection, instead
  // of V8's default of up to 4×: the close's old generation is mostly garbage promoted in passing.
  '--heap-growing-percent=50',
] as const;

/** Environment of the process: glibc's malloc keeps 2 arenas instead of up to 8 per core. */
export const nodeEnv = { MALLOC_ARENA_MAX: '2' } as const;

/** Whether this process was started with `nodeFlags`; tipd warns if not. */
export const startedWithNodeFlags = (): boolean => nodeFlags.every((flag) => process.execArgv.includes(flag));
