// Loads the bundle-hash vectors of spec/server.md §5.4 (a copy of spec/hash-vectors.json).
import { readFileSync } from 'node:fs';

export interface HashVector {
  name: string;
  input_json: string;
  canonical_hex: string;
  canonical_bytes: number;
  sha256: string;
}

export interface PayloadVector {
  jsonb_text: string;
  payload_wire: string;
}

interface HashVectorFile {
  vectors: HashVector[];
  payload_vectors: PayloadVector[];
}

export const hashVectors = JSON.parse(
  readFileSync(new URL('./hash-vectors.json', import.meta.url), 'utf8'),
) as HashVectorFile;
