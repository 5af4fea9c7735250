/**
 * Reading a console form: only `application/x-www-form-urlencoded` (what a plain HTML form
 * sends), at most 16 KiB (more is answered 413 before it is buffered), parsed with zod so a
 * missing or oversized field is refused by name.
 */
import type http from 'node:http';
import { z } from 'zod';

const MAX_FORM_BYTES = 16 * 1024;

export class FormError extends Error {
  override readonly name = 'FormError';
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** The form's fields (a repeated field keeps its first value). */
export async function readForm(req: http.IncomingMessage): Promise<Record<string, string>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new FormError(415, 'a form (application/x-www-form-urlencoded) was expected');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_FORM_BYTES) throw new FormError(413, `the form is larger than ${MAX_FORM_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // A chunked body has no Content-Length to refuse up front: stop reading once it is too big.
    if (size > MAX_FORM_BYTES) throw new FormError(413, `the form is larger than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) if (!(key in fields)) fields[key] = value;
  return fields;
}

/** Parses `fields` with `schema`; the error names the field. */
export function parseForm<S extends z.ZodType>(schema: S, fields: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new FormError(400, `form field ${String(issue?.path[0] ?? '?')}: ${issue?.message ?? 'is invalid'}`);
}

const note = z.string().trim().min(1, 'is required: say what was done or why').max(1000, 'is longer than 1000 characters');

export const SIGNIN_FORM = z.object({ token: z.string().max(1024, 'is longer than 1024 characters') });
export const CSRF_FORM = z.object({ csrf: z.string().min(1, 'is missing') });
export const NOTE_FORM = CSRF_FORM.extend({ note });

/** A Specter order number or a job id in a path: digits, no leading zero. */
export const ORDER_NO = /^[1-9][0-9]{0,17}$/;
export const JOB_ID = /^[1-9][0-9]{0,14}$/;
