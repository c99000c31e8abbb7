/**
 * Flags on Node's `util.parseArgs`, from one spec per subcommand that gives both the parsing
 * and the `--help` text, so the usage cannot drift from what is accepted. Unknown flags,
 * missing values, a wrong number of arguments and missing required flags are usage errors
 * (exit 2), each one sentence that names the flag and points at `--help`.
 */
import { parseArgs } from 'util';
import { CliCommand, CliUsageError, CommandSpec, OptionSpec } from './types';

export type { CommandSpec, OptionSpec } from './types';

/** `-w, --write-out FORMAT`: the output formats a command offers, the default first. */
export function writeOutFlag(first: string, ...rest: [string, ...string[]]): OptionSpec {
  const others = rest.length > 1 ? `, ${rest.slice(0, -1).join(', ')} or ${rest[rest.length - 1]}` : ` or ${rest[0]}`;
  return { type: 'string', short: 'w', value: 'FORMAT', help: `${first} (default)${others}` };
}

/** `--config FILE`: the backup plan every `backup` subcommand reads. */
export const PLAN_FLAG: OptionSpec = { type: 'string', value: 'FILE', help: 'the backup plan (YAML, mode 0600)', required: true };

const flagWithValue = (n: string, o: OptionSpec): string => `--${n}${o.value ? ` ${o.value}` : ''}`;

/** The synopsis: the arguments and the required flags, then each other flag in brackets. */
function usageLine(spec: CommandSpec): string {
  const opts = Object.entries(spec.options);
  const word = ([n, o]: [string, OptionSpec]): string => (o.short ? `-${o.short}${o.value ? ` ${o.value}` : ''}` : flagWithValue(n, o));
  const must = [
    `etcd-backup ${spec.name}`,
    ...(spec.positionals ? [spec.positionals.usage] : []),
    ...opts.filter(([, o]) => o.required).map(word),
  ];
  // What must be given stays on the first line; the optional flags wrap under it.
  const lines = [`Usage: ${must.join(' ')}`];
  for (const w of opts.filter(([, o]) => !o.required).map((e) => `[${word(e)}]`)) {
    if (lines[lines.length - 1].length + w.length >= 100) lines.push('        ');
    lines[lines.length - 1] += ` ${w}`;
  }
  return lines.join('\n');
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const opts = Object.entries(spec.options);
  const lines = [usageLine(spec), '', spec.summary, '', 'Options:'];
  const left = (n: string, o: OptionSpec): string => `${o.short ? `-${o.short}, ` : '    '}${flagWithValue(n, o)}`;
  const width = Math.max(...opts.map(([n, o]) => left(n, o).length), 10) + 2;
  for (const [n, o] of opts) {
    const also = o.alias ? ` (also --${o.alias})` : '';
    const required = !o.required ? '' : o.unlessGiven ? ` (required without --${o.unlessGiven})` : ' (required)';
    lines.push(`  ${left(n, o).padEnd(width)}${o.help}${also}${required}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(width)}this text`);
  if (spec.description) lines.push('', spec.description);
  return lines.join('\n');
}

export type ParsedValues = Record<string, string | boolean | undefined>;

/** A string flag's value (undefined when absent). */
export function stringValue(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** What `parseArgs` says of each argument (the fields read here). */
type Token =
  | { kind: 'option'; name: string; rawName: string; index: number; value?: string }
  | { kind: 'positional'; index: number; value: string }
  | { kind: 'option-terminator'; index: number };

/** The flags given, by their spec name; a usage error for an unknown flag or a string flag without a value. */
function flagValues(spec: CommandSpec, args: string[], tokens: Token[]): ParsedValues {
  const aliasOf = new Map(Object.entries(spec.options).flatMap(([n, o]) => (o.alias ? [[o.alias, n] as const] : [])));
  const values: ParsedValues = {};
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const name = aliasOf.get(t.name) ?? t.name;
    const o = spec.options[name];
    if (!o) throw new CliUsageError(`unknown flag ${args[t.index].split('=')[0]}.`);
    if (o.type === 'string') {
      if (t.value === undefined) throw new CliUsageError(`${t.rawName} needs a value.`);
      values[name] = t.value;
    } else {
      // `--write=false` as well as `--write`
      values[name] = t.value === undefined || !/^(false|0|no)$/i.test(t.value);
    }
  }
  return values;
}

/** Refuse a wrong count of arguments and missing required flags. */
function checkPresence(spec: CommandSpec, values: ParsedValues, positionals: string[]): void {
  const p = spec.positionals ?? { usage: '', min: 0, max: 0 };
  if (positionals.length < p.min || positionals.length > p.max) {
    throw new CliUsageError(p.max === 0 ? `unexpected argument "${positionals[0]}".` : (p.sentence ?? `expected ${p.usage}.`));
  }
  const absent = (n: string): boolean => values[n] === undefined || values[n] === '';
  const required = Object.entries(spec.options).filter(([n, o]) => o.required && absent(n) && !(o.unlessGiven && !absent(o.unlessGiven)));
  const plain = required.filter(([, o]) => !o.ifMissing);
  if (plain.length === 1) throw new CliUsageError(`${flagWithValue(...plain[0])} is required.`);
  if (plain.length > 1) throw new CliUsageError(`missing ${plain.map(([n]) => `--${n}`).join(', ')}.`);
}

/** Parse `args` by `spec`; returns undefined when `--help` or `-h` was asked for (the caller prints {@link helpText}). */
export function parseCommand(spec: CommandSpec, args: string[]): { values: ParsedValues; positionals: string[] } | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [n, o] of Object.entries(spec.options)) {
    options[n] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
    if (o.alias) options[o.alias] = { type: o.type };
  }
  // Not strict: the tokens are checked here, so each refusal is our own sentence. A string flag takes the next
  // argument as its value even when it starts with a dash (`--password -x-`), as etcdctl does.
  const tokens = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true }).tokens as Token[];
  if (tokens.some((t) => t.kind === 'option' && (t.name === 'help' || t.name === 'h') && !spec.options[t.name])) return undefined;
  const positionals = tokens.flatMap((t) => (t.kind === 'positional' ? [t.value] : []));
  let values: ParsedValues = {};
  try {
    values = flagValues(spec, args, tokens);
    checkPresence(spec, values, positionals);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    throw new CliUsageError(`${err.message} Run \`etcd-backup ${spec.name} --help\`.`);
  }
  // A flag with a sentence of its own says what to give (a new token, an example URL), no need for the help.
  for (const [n, o] of Object.entries(spec.options)) {
    const waived = o.unlessGiven !== undefined && values[o.unlessGiven] !== undefined && values[o.unlessGiven] !== '';
    if (o.required && o.ifMissing && !waived && (values[n] === undefined || values[n] === '')) throw new CliUsageError(o.ifMissing());
  }
  return { values, positionals };
}

/** A subcommand from its spec and what it does with the parsed flags; `--help` prints {@link helpText}. */
export function command(spec: CommandSpec, body: (values: ParsedValues, positionals: string[]) => Promise<number>): CliCommand {
  return {
    summary: spec.summary,
    specs: [spec],
    async run(args) {
      const parsed = parseCommand(spec, args);
      if (!parsed) {
        process.stdout.write(`${helpText(spec)}\n`);
        return 0;
      }
      return body(parsed.values, parsed.positionals);
    },
  };
}
