// args.mjs: the command line both ONNX Runtime peers take (ort_bench.mjs and ort_web/run.mjs), parsed
// in one place so the two cannot drift apart: the protocol flags edgeq::bench::detail::protocol_args
// passes, the evaluation flags, and whatever string flags one script adds (run.mjs: --chromium).
//
// Protocol flags (defaults as DESIGN.md's protocol):
//   --threads N --warmup N --runs N --batch-runs N --rounds N --batches LIST --seed S --shape D,D,..
//   --input FILE --noop MODEL
// Evaluation flags (accuracy on a labelled set, after timing and not timed; see evaluate.mjs):
//   --eval-input FILE      raw little-endian float32 samples, n x (elements of one sample)
//   --eval-labels FILE     raw little-endian int32 class indices, one per sample (top-1)
//   --eval-reference FILE  raw little-endian float32 logits of the fp32 model on those samples, n x classes
//                          (top-1 agreement and max |logit difference|)
//   --eval-batch N         samples per call (default 64; a model with a fixed batch uses its own)
//   --eval-limit N         evaluate the first N samples only (default 0: all); the JSON says how many ran

export const PROTOCOL_USAGE = '[--threads N] [--warmup N] [--runs N] [--batch-runs N] [--rounds N] [--batches 1,64] ' +
  '[--input FILE.f32] [--seed S] [--shape D,D,..] [--noop IDENTITY.onnx] [--eval-input FILE.f32 [--eval-labels FILE.i32] ' +
  '[--eval-reference LOGITS.f32] [--eval-batch N] [--eval-limit N]]';

// flag -> [option name, smallest accepted value]
const INT_FLAGS = {
  '--threads': ['threads', 1], '--warmup': ['warmup', 0], '--runs': ['runs', 1], '--batch-runs': ['batchRuns', 1],
  '--rounds': ['rounds', 1], '--seed': ['seed', 0], '--eval-batch': ['evalBatch', 1], '--eval-limit': ['evalLimit', 0],
};
const STRING_FLAGS = {
  '--input': 'input', '--noop': 'noop', '--eval-input': 'evalInput', '--eval-labels': 'evalLabels',
  '--eval-reference': 'evalReference',
};

function parseIntList(flag, text, fail) {
  const values = text.split(',').map((s) => Number(s));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) fail(`${flag} wants positive integers, got '${text}'`);
  return values;
}

// argv: process.argv.slice(2). usage: printed for --help. fail(message): reports and exits.
// extraStrings: {flag: option name, ...} with their defaults in `defaults`.
export function parsePeerArgs(argv, { usage, fail, extraStrings = {}, defaults = {} }) {
  const opts = {
    threads: 1, warmup: 20, runs: 300, batchRuns: 30, rounds: 3, batches: [1, 64], input: null, seed: 1, shape: null,
    noop: null, evalInput: null, evalLabels: null, evalReference: null, evalBatch: 64, evalLimit: 0, models: [],
    ...defaults,
  };
  const strings = { ...STRING_FLAGS, ...extraStrings };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) {
      opts.models.push(a);
      continue;
    }
    if (i + 1 >= argv.length) fail(`${a} needs a value`);
    const v = argv[++i];
    if (a in INT_FLAGS) {
      const [name, min] = INT_FLAGS[a];
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) fail(`${a} wants an integer >= ${min}, got '${v}'`);
      opts[name] = n;
    } else if (a === '--batches' || a === '--shape') {
      opts[a.slice(2)] = parseIntList(a, v, fail);
    } else if (a in strings) {
      opts[strings[a]] = v;
    } else {
      fail(`unknown option ${a}`);
    }
  }
  if (opts.models.length === 0 && !opts.noop) fail('no model given (see --help)');
  if ((opts.evalLabels || opts.evalReference) && !opts.evalInput) fail('--eval-labels and --eval-reference need --eval-input');
  return opts;
}
