/**
 * A setting is missing or invalid. The CLI turns it into exit code 2 and prints `message`.
 *
 * `message` always names the setting and where its value was read from, so an operator can
 * fix it without reading code, and never contains a secret's value (loaders write
 * "(value hidden)" instead): the message goes to logs and terminals.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The environment variable (e.g. `SYNC_LOOKBACK_DAYS`) or JSON path (e.g. `routing[1].provider`). */
  readonly setting: string;
  /** Where the bad value came from, e.g. `environment variable SYNC_LOOKBACK_DAYS`. */
  readonly source: string;

  /**
   * `how` is "from" for a bad value; "looked in" for a value that is missing, where `source`
   * lists the places that were searched.
   */
  constructor(setting: string, problem: string, source: string, how: 'from' | 'looked in' = 'from') {
    super(`${setting}: ${problem} (${how} ${source})`);
    this.setting = setting;
    this.source = source;
  }
}
