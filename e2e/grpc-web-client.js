// A minimal gRPC-Web client for the browser, for the interop tests: protobuf encoding of
// the few grpc.testing messages they need, framing, binary (application/grpc-web+proto) and
// text (application/grpc-web-text, base64) modes, and parsing of messages and trailers.
// It runs inside Chromium (loaded with page.addScriptTag), so every call is a real browser
// fetch. Written for these tests; not a general client.
(() => {
  const concat = (parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const varint = (n) => {
    const out = [];
    while (n > 127) { out.push((n % 128) | 128); n = Math.floor(n / 128); }
    out.push(n);
    return Uint8Array.from(out);
  };
  const tag = (field, wire) => varint(field * 8 + wire);
  const number = (field, n) => (n ? concat([tag(field, 0), varint(n)]) : new Uint8Array());
  const bytes = (field, b) => concat([tag(field, 2), varint(b.length), b]);
  const text = (field, s) => bytes(field, new TextEncoder().encode(s));

  // Decodes one message into { field: [values] }: numbers for varints, bytes otherwise.
  const decode = (buf) => {
    const fields = {};
    let at = 0;
    const readVarint = () => {
      let n = 0; let scale = 1; let byte;
      do { byte = buf[at++]; n += (byte & 127) * scale; scale *= 128; } while (byte & 128);
      return n;
    };
    while (at < buf.length) {
      const key = readVarint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      let value;
      if (wire === 0) value = readVarint();
      else if (wire === 2) { const len = readVarint(); value = buf.subarray(at, at + len); at += len; }
      else throw new Error(`unsupported wire type ${wire}`);
      (fields[field] ??= []).push(value);
    }
    return fields;
  };

  const messages = {
    empty: () => new Uint8Array(),
    // SimpleRequest: response_size = 2, payload = 3 (Payload.body = 2), response_status = 7.
    simpleRequest: ({ responseSize = 0, payloadSize = 0, status } = {}) => concat([
      number(2, responseSize),
      payloadSize ? bytes(3, bytes(2, new Uint8Array(payloadSize))) : new Uint8Array(),
      status ? bytes(7, concat([number(1, status.code), text(2, status.message)])) : new Uint8Array(),
    ]),
    // StreamingOutputCallRequest: response_parameters = 2 (size = 1, interval_us = 2).
    streamingOutputRequest: (params) => concat(params.map(({ size, intervalUs = 0 }) =>
      bytes(2, concat([number(1, size), number(2, intervalUs)])))),
    // The payload body length of a SimpleResponse or StreamingOutputCallResponse.
    payloadSize: (message) => {
      const payload = decode(message)[1]?.[0];
      return payload ? (decode(payload)[2]?.[0]?.length ?? 0) : 0;
    },
  };

  const toBase64 = (data) => {
    let binary = '';
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(binary);
  };
  // Text mode may pad each frame separately: decode quantum by quantum.
  const fromBase64 = (s) => {
    const clean = s.replace(/\s/g, '');
    const parts = [];
    for (let i = 0; i < clean.length; i += 4) {
      const binary = atob(clean.slice(i, i + 4));
      parts.push(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    }
    return concat(parts);
  };

  const parseTrailers = (bytesOfTrailers) => {
    const trailers = {};
    for (const line of new TextDecoder().decode(bytesOfTrailers).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return trailers;
  };

  // One call: returns { httpStatus, headers, messages, trailers, status, message }.
  async function call(path, request, { mode = 'binary', metadata = {} } = {}) {
    const textMode = mode === 'text';
    const contentType = textMode ? 'application/grpc-web-text' : 'application/grpc-web+proto';
    const frame = concat([Uint8Array.of(0), (() => {
      const len = new Uint8Array(4); new DataView(len.buffer).setUint32(0, request.length); return len;
    })(), request]);
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': contentType, accept: contentType, 'x-grpc-web': '1', ...metadata },
      body: textMode ? toBase64(frame) : frame,
    });
    const raw = new Uint8Array(await response.arrayBuffer());
    const body = textMode ? fromBase64(new TextDecoder().decode(raw)) : raw;
    const result = { httpStatus: response.status, headers: Object.fromEntries(response.headers), messages: [], trailers: {} };
    for (let at = 0; at < body.length;) {
      const flag = body[at];
      const len = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
      const payload = body.subarray(at + 5, at + 5 + len);
      at += 5 + len;
      if (flag & 0x80) result.trailers = parseTrailers(payload);
      else result.messages.push(payload);
    }
    // A trailers-only answer carries the status in the headers.
    const source = 'grpc-status' in result.trailers ? result.trailers : result.headers;
    result.status = Number(source['grpc-status']);
    result.message = decodeURIComponent(source['grpc-message'] ?? '');
    return result;
  }

  window.grpcWeb = { call, messages };
})();
