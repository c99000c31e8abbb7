/**
 * Flags on Node's `util.parseArgs`, from one spec per subcommand that gives both the parsing
 * and the `--help` text, so the usage cannot drift from what is accepted. Unknown flags,
 * missing values and unexpected positionals are usage errors (exit 2).
 */
import { parseArgs } from 'util';
import { CliUsageError } from './types';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder in the help: `--config FILE`. */
  value?: string;
  help: string;
  required?: boolean;
}

export interface CommandSpec {
  /** `backup run` */
  name: string;
  summary: string;
  /** Positional arguments, for the usage line (`<file>`); none accepted when absent. */
  positionals?: { usage: string; min: number; max: number };
  options: Record<string, OptionSpec>;
  /** Paragraphs after the options. */
  description?: string;
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const opts = Object.entries(spec.options);
  const req = opts.filter(([, o]) => o.required).map(([n, o]) => `--${n}${o.value ? ` ${o.value}` : ''}`);
  const usage = `etcd-backup ${spec.name}${spec.positionals ? ` ${spec.positionals.usage}` : ''}${req.length ? ` ${req.join(' ')}` : ''}`;
  const lines = [`Usage: ${usage} [options]`, '', spec.summary, '', 'Options:'];
  const left = (n: string, o: OptionSpec): string => `${o.short ? `-${o.short}, ` : '    '}--${n}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...opts.map(([n, o]) => left(n, o).length), 10) + 2;
  for (const [n, o] of opts) {
    lines.push(`  ${left(n, o).padEnd(width)}${o.help}${o.required ? ' (required)' : ''}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(width)}this text`);
  if (spec.description) lines.push('', spec.description);
  return lines.join('\n');
}

export type ParsedValues = Record<string, string | boolean | undefined>;

/** Parse `args` by `spec`; returns undefined when `--help` was asked for (the caller prints {@link helpText}). */
export function parseCommand(spec: CommandSpec, args: string[]): { values: ParsedValues; positionals: string[] } | undefined {
  if (args.includes('--help') || args.includes('-h')) return undefined;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [n, o] of Object.entries(spec.options)) options[n] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed: { values: ParsedValues; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    const msg = (err as Error).message
      .replace(/^Unknown option '(.*?)'.*$/s, 'unknown flag $1.')
      .replace(/\. To specify a positional.*$/s, '.');
    throw new CliUsageError(`${msg} Run \`etcd-backup ${spec.name} --help\`.`);
  }
  const p = spec.positionals ?? { usage: '', min: 0, max: 0 };
  if (parsed.positionals.length < p.min || parsed.positionals.length > p.max) {
    throw new CliUsageError(
      p.max === 0
        ? `unexpected argument "${parsed.positionals[0]}". Run \`etcd-backup ${spec.name} --help\`.`
        : `expected ${p.usage}. ` + `Run \`etcd-backup ${spec.name} --help\`.`,
    );
  }
  for (const [n, o] of Object.entries(spec.options)) {
    if (o.required && parsed.values[n] === undefined) {
      throw new CliUsageError(`--${n}${o.value ? ` ${o.value}` : ''} is required. Run \`etcd-backup ${spec.name} --help\`.`);
    }
  }
  return parsed;
}
