import { Command } from 'commander';

/** `kiban vectors embed`: item vectors from item text or an ONNX encoder (issue 18, under way). */
export function vectorsEmbedCommand(): Command {
  return new Command('embed').description(
    'Embed items from their text (the tagger model) or with an ONNX encoder into a vector index.',
  );
}
