/**
 * Reading a request body with a byte bound enforced while it streams: a chunked body without
 * `Content-Length` is cut off as soon as it passes the bound (the stream is cancelled, so at most
 * one chunk beyond the bound is ever read), and a declared length over the bound is refused before
 * anything is read. Used by every request handler of this package.
 */

/** The body is missing, too large or not text/JSON; `status` is the answer (400 or 413). */
export class RequestBodyError extends Error {
  override name = 'RequestBodyError';
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** The body as UTF-8 text, at most `maxBytes` bytes; throws `RequestBodyError` (413, 400 for bad UTF-8). */
export async function readBoundedText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new RequestBodyError(413, `body larger than ${maxBytes} bytes`);
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (request.body === null) return '';
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RequestBodyError(400, 'body is not valid UTF-8');
  }
}
