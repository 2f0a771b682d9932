/**
 * The one error type a user can cause. `message` is always safe to show;
 * `fields` names each offending input by its path ("definition.argv.2").
 */
export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly fields: FieldError[];

  constructor(status: number, code: string, message: string, fields: FieldError[] = []) {
    super(message);
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  toJSON() {
    const error: { code: string; message: string; fields?: FieldError[] } = {
      code: this.code,
      message: this.message,
    };
    if (this.fields.length) error.fields = this.fields;
    return { error };
  }
}

export const invalid = (message: string, fields: FieldError[] = []) =>
  new AppError(400, "invalid", message, fields);
export const notFound = (what: string) => new AppError(404, "not_found", `${what} not found`);
export const conflict = (message: string) => new AppError(409, "conflict", message);
