/** A subcommand of the CLI. `run` returns the exit status. */
export interface CliCommand {
  summary: string;
  run(args: string[]): Promise<number>;
}

/** Wrong flags or arguments: printed with exit status 2. */
export class CliUsageError extends Error {}

/**
 * Parse `--flag value`, `--flag=value` and boolean `--flag` (names listed in `booleans`).
 * Returns positionals and a flag map; an unknown flag is a usage error.
 */
export function parseFlags(
  args: string[],
  known: { strings?: string[]; booleans?: string[]; aliases?: Record<string, string> },
): { positionals: string[]; flags: Record<string, string | boolean> } {
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
