/** A hex string or hash that does not parse; `field` names what was being read (a setting, an event arg). */
export type HexErrorCode = "NOT_HEX" | "WRONG_LENGTH";

export class HexError extends Error {
  override name = "HexError";
  constructor(
    readonly code: HexErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
