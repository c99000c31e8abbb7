/**
 * The uniform view of the files etcd is started from: a Kubernetes static pod manifest, an env
 * file of `ETCD_*` variables, etcd's YAML config file (`--config-file`) and a systemd unit whose
 * `ExecStart=` runs etcd. Every setting keeps the exact source range of its value and of its
 * whole entry, so edits can change only the bytes that must change.
 *
 * Offsets are UTF-16 code unit offsets into the text as given (the same unit as JavaScript
 * string indices and VS Code's `document.positionAt`), `end` exclusive. CRLF counts as two.
 */

import type { EtcdMinor } from './etcdVersions';

/** What kind of file this is, recognised by its content. */
export type EtcdFileKind = 'manifest' | 'env' | 'config' | 'systemd' | 'unknown';

/** `[start, end)` in the text. */
export interface TextRange {
  start: number;
  end: number;
}

/** One text edit: replace `length` characters at `offset` with `newText`. */
export interface TextEdit {
  offset: number;
  length: number;
  newText: string;
}

/**
 * How a setting is written:
 * - `flag=value`: `--data-dir=/x` (one YAML item or one ExecStart word);
 * - `flag value`: `--data-dir` `/x` (two items or two words);
 * - `flag`: a boolean flag with no value (`--client-cert-auth`), value `true`;
 * - `env`: `ETCD_DATA_DIR=/x` (env file, or systemd `Environment=`);
 * - `config`: `data-dir: /x` in etcd's config file.
 */
export type SettingForm = 'flag=value' | 'flag value' | 'flag' | 'env' | 'config';

/** How the value is quoted in the source. */
export type ValueQuote = 'none' | 'single' | 'double';

/** One setting as written in the file. */
export interface EtcdSetting {
  /** Canonical flag name without dashes: `data-dir`, `initial-cluster-state`. */
  name: string;
  /** The key exactly as written: `--data-dir`, `-data-dir`, `ETCD_DATA_DIR`, `data-dir`, `client-transport-security.cert-file`. */
  key: string;
  /** The value after unquoting/unescaping (`true` for a bare boolean flag). */
  value: string;
  /**
   * Source range of the value. When `exactValue` is true, `text.slice(start, end) === value`
   * (quotes outside the range); otherwise it covers the whole quoted scalar/word that holds the
   * value (escapes or line folding made a character-exact range impossible).
   */
  valueRange: TextRange;
  exactValue: boolean;
  /** Range of the whole entry: `- --data-dir=/x` (from the dash), `ETCD_X="y"`, `data-dir: /x`, `--data-dir /x`. */
  entryRange: TextRange;
  /** Range of the key as written. */
  keyRange: TextRange;
  form: SettingForm;
  /** Quoting of the scalar/word that holds the value (for a `flag=value` YAML item: of the whole item). */
  quote: ValueQuote;
  /** For env lines: written with a leading `export `. */
  exported?: boolean;
  /** Where it comes from in a systemd unit: the `ExecStart=` command line or an `Environment=` line. */
  source?: 'command' | 'environment';
  /** For a manifest: `command` or `args` of the container, or its `env` list (`- name: ETCD_X` / `value: ...`). */
  list?: 'command' | 'args' | 'env';
  /** YAML: the value is inside a flow collection (`[...]`, `{...}`), where `,[]{}` need quotes. */
  inFlow?: boolean;
}

/** A volume of the Pod (`spec.volumes[]`). */
export interface PodVolume {
  name: string;
  nameRange?: TextRange;
  /** `hostPath.path`, when the volume is a hostPath volume. */
  hostPath?: string;
  hostPathRange?: TextRange;
  hostPathQuote?: ValueQuote;
  hostPathInFlow?: boolean;
  /** `hostPath.type`, e.g. `DirectoryOrCreate`. */
  hostPathType?: string;
  /** The volume source kind (`hostPath`, `emptyDir`, `persistentVolumeClaim`, ...). */
  sourceKind?: string;
  /** The whole list item. */
  range: TextRange;
}

/** A mount of the etcd container (`volumeMounts[]`). */
export interface VolumeMount {
  name: string;
  nameRange?: TextRange;
  mountPath: string;
  mountPathRange?: TextRange;
  mountPathQuote?: ValueQuote;
  mountPathInFlow?: boolean;
  readOnly?: boolean;
  /** `subPath`, when set (the mount shows only that part of the volume). */
  subPath?: string;
  range: TextRange;
}

/** A file a systemd unit reads variables from (`EnvironmentFile=`); `optional` for a leading `-`. */
export interface EnvironmentFileRef {
  path: string;
  optional: boolean;
  range: TextRange;
}

/** A problem found while reading the file: the file is still analysed as far as possible. */
export interface ParseProblem {
  range: TextRange;
  message: string;
  /** `error`: the file cannot be read as etcd would (YAML error, a line that is not KEY=VALUE). */
  severity: 'error' | 'warning' | 'info';
  /** The file cannot be edited safely while this problem is there (YAML that does not parse, no etcd container). */
  fatal?: boolean;
  /**
   * The file is analysed, but edits are refused with this problem's message (etcd runs through a
   * shell script, two containers run etcd, ...).
   */
  blocksEdits?: boolean;
  /**
   * Stable id: `yaml-error`, `not-a-pod`, `no-etcd-container`, `not-an-etcd-file`, `not-key-value`, `stray-argument`,
   * `shell-command`, `not-expanded`, `not-a-string`, `one-word-command`.
   */
  code: string;
}

/** Where and how the flags of a manifest or unit are written, so new ones can be added in the same style. */
export interface FlagListInfo {
  /** Manifest: the YAML sequence the flags are in (`command` or `args`), whether it is a flow sequence. */
  list?: 'command' | 'args';
  flow?: boolean;
  /** Offset just after the last item/word of the command (where a new flag is appended). */
  insertAfter: number;
  /** Manifest block sequences: the indentation (spaces) of the `-` of the items. Units: of continuation lines. */
  indent?: string;
  /** Range of the executable (`etcd`, `/usr/local/bin/etcd`). */
  executableRange?: TextRange;
}

/** A volume of a `docker run` / `podman run` command: `-v host:container[:opts]`, `--volume`, `--mount type=bind,...`. */
export interface ContainerVolume {
  host: string;
  container: string;
  /** Where the host path is written, character for character (undefined when quoting or escapes prevent it). */
  hostRange?: TextRange;
  /** The whole option word (`-v` excluded). */
  range: TextRange;
  readOnly?: boolean;
}

/**
 * How a unit starts etcd when its `ExecStart=` does not run etcd itself: a container runtime
 * (`docker run`, `podman run`), a shell (`bash -c "…"`), or a wrapper (CoreOS's `etcd-wrapper`,
 * which runs etcd in a container with its data dir mounted at the same path).
 */
export interface UnitLauncher {
  kind: 'docker' | 'podman' | 'shell' | 'etcd-wrapper' | 'other';
  /** The program as written (`/usr/bin/docker`, `/bin/bash`, `/usr/lib/coreos/etcd-wrapper`). */
  program: string;
  range: TextRange;
  /** Containers: the volumes, the `--env-file` files, the image. */
  volumes: ContainerVolume[];
  envFiles: string[];
  image?: string;
  /** Containers and wrappers: the container runs etcd with flags this file shows (`image etcd --flag …`). */
  etcdFlags: boolean;
  /** Shells: the `${ETCD_*}` variables the script passes to etcd. */
  scriptVariables?: string[];
}

/** A mount of another container of the Pod (not the one that runs etcd). */
export interface OtherContainerMount extends VolumeMount {
  container: string;
}

/** The result of `parseEtcdFile`: the uniform view of one file. */
export interface ParsedEtcdFile {
  kind: EtcdFileKind;
  fileName?: string;
  /** The text that was parsed; edits refer to it. */
  text: string;
  /** The file's line ending (`\r\n` when its first line ends so). */
  eol: '\n' | '\r\n';
  /** Every setting, in source order (a setting given twice appears twice). */
  settings: EtcdSetting[];
  /** Manifest only: the Pod's volumes and the etcd container's mounts. */
  volumes: PodVolume[];
  volumeMounts: VolumeMount[];
  /** Manifest and unit: where the command line is, for adding flags. */
  flagList?: FlagListInfo;
  /** Unit only: `EnvironmentFile=` entries. */
  environmentFiles: EnvironmentFileRef[];
  /** Problems met while reading. A file with a `fatal` problem is never edited. */
  problems: ParseProblem[];
  /** Manifest: the container name; unit: the `[Service]` section exists. Informative. */
  containerName?: string;
  /** Manifest: the range of the etcd container's mapping (for diagnostics about the container). */
  containerRange?: TextRange;
  /** Manifest: the mounts of the Pod's other containers (a data volume they share moves for them too). */
  otherMounts?: OtherContainerMount[];
  /** The etcd release the file names (a manifest's image tag, a unit's image or `ETCD_IMAGE_TAG`), when 3.4, 3.5 or 3.6. */
  etcdVersion?: EtcdMinor;
  /** Where the release comes from (`image registry.k8s.io/etcd:3.5.15-0`). */
  etcdVersionSource?: string;
  /** Unit: how `ExecStart=` starts etcd when it is not etcd itself. */
  launcher?: UnitLauncher;
}

/** The settings that matter for import and restore, after duplicates (the last one wins). */
export interface EffectiveSettings {
  name?: string;
  /** `--data-dir` as etcd sees it (inside the container for a manifest). */
  dataDir?: string;
  /** Manifest: the host directory mounted at the data dir (what a restore must write); otherwise `dataDir`. */
  hostDataDir?: string;
  advertiseClientUrls: string[];
  listenClientUrls: string[];
  listenPeerUrls: string[];
  trustedCaFile?: string;
  certFile?: string;
  keyFile?: string;
  clientCertAuth?: boolean;
  initialCluster?: string;
  initialAdvertisePeerUrls: string[];
  initialClusterState?: string;
  initialClusterToken?: string;
}

export type DiagnosticSeverity = 'error' | 'warning' | 'info' | 'hint';

/** A quick fix: a title and the text edits that make it. */
export interface DiagnosticFix {
  title: string;
  edits: TextEdit[];
}

/** One finding, with what goes wrong at start-up, and a fix when one exists. */
export interface EtcdDiagnostic {
  range: TextRange;
  severity: DiagnosticSeverity;
  /** Stable id, e.g. `data-dir-not-mounted`, `unknown-flag`, `duplicate-setting`. */
  code: string;
  message: string;
  fix?: DiagnosticFix;
}

/** The result of an edit: text edits, or one sentence saying why the edit cannot be made. */
export type EditResult =
  | { ok: true; edits: TextEdit[]; /** What changes, one line each (for a log or a confirmation). */ changes: string[] }
  | { ok: false; error: string };
