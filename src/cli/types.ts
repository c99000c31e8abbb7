/** A subcommand of the CLI. `run` returns the exit status. */
export interface CliCommand {
  summary: string;
  /** What `--help` prints; without it, a usage built from the summary and the flags it knows. */
  usage?: string;
  run(args: string[]): Promise<number>;
}

/** Wrong flags or arguments: printed with exit status 2. */
export class CliUsageError extends Error {}

/** The flags a command knows, as given to {@link parseFlags}. */
export interface KnownFlags {
  strings?: string[];
  booleans?: string[];
  aliases?: Record<string, string>;
}

/**
 * `--help` or `-h` on a command that does not handle it itself: main() prints the command's
 * usage (or one built from `known`) on stdout and exits 0. Never an "unknown flag".
 */
export class CliHelpRequest extends Error {
  constructor(readonly known: KnownFlags) {
    super('help requested');
    this.name = 'CliHelpRequest';
  }
}

/** A usage text for a command without one of its own: its summary and every flag it knows. */
export function generatedUsage(name: string, cmd: Pick<CliCommand, 'summary'>, known: KnownFlags): string {
  const short = new Map(Object.entries(known.aliases ?? {}).map(([a, full]) => [full, a]));
  const flag = (f: string, value: boolean): string => {
    const a = short.get(f);
    return `${a && a.length === 1 ? `-${a}, ` : ''}--${f}${value ? ' <value>' : ''}`;
  };
  const names = [...(known.strings ?? []).map((f) => [f, true] as const), ...(known.booleans ?? []).map((f) => [f, false] as const)];
  const flags = names.sort((x, y) => x[0].localeCompare(y[0])).map(([f, value]) => `  ${flag(f, value)}`);
  const what = `${cmd.summary.charAt(0).toUpperCase()}${cmd.summary.slice(1)}.`;
  return [`Usage: etcd-backup ${name} [flags] <arguments>`, '', what, '', 'Flags:', ...flags, '  -h, --help'].join('\n');
}

/**
 * Parse `--flag value`, `--flag=value` and boolean `--flag` (names listed in `booleans`).
 * Returns positionals and a flag map; an unknown flag is a usage error. `--help` / `-h` is
 * known to every command: unless the command lists `help` itself, it throws
 * {@link CliHelpRequest} (main() prints the usage).
 */
export function parseFlags(args: string[], known: KnownFlags): { positionals: string[]; flags: Record<string, string | boolean> } {
  const strings = new Set(known.strings ?? []);
  const booleans = new Set(known.booleans ?? []);
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    let name = a.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = known.aliases?.[name] ?? name;
    if ((name === 'help' || name === 'h') && !booleans.has(name) && !strings.has(name)) {
      throw new CliHelpRequest(known);
    }
    if (booleans.has(name)) {
      flags[name] = value === undefined ? true : !/^(false|0|no)$/i.test(value);
    } else if (strings.has(name)) {
      if (value === undefined) {
        if (i + 1 >= args.length) {
          throw new CliUsageError(`--${name} needs a value.`);
        }
        value = args[++i];
      }
      flags[name] = value;
    } else {
      throw new CliUsageError(`unknown flag --${name}.`);
    }
  }
  return { positionals, flags };
}
