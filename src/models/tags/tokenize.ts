/**
 * Word runs (letters, marks, digits) or single symbols (`+ $ ° ©`, emoji). Whitespace and
 * punctuation (`. , ? ! ' " - / ( ) : ; & %`…) separate tokens and are dropped: on the cooking
 * tags, keeping punctuation marks as tokens of their own (as the fastText tutorial's sed script
 * does) lowered P@1 by 0.01–0.02, since they dilute the mean of the input rows.
 */
const TOKEN = /[\p{L}\p{M}\p{N}]+|\p{S}/gu;

/** Scripts written without spaces between words: such runs go through a dictionary segmenter. */
const UNSPACED =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

let segmenter: Intl.Segmenter | null = null;

/**
 * Splits text into the tokens the tagger learns from: NFKC-normalised (full-width Latin letters
 * and digits become ASCII, half-width katakana full-width), lower-cased, split at whitespace and
 * punctuation (which are dropped), each symbol a token of its own. Runs of Japanese, Chinese, Thai, Lao,
 * Khmer or Burmese text are cut into words by `Intl.Segmenter` (ICU's dictionaries), since those
 * scripts put no spaces between words.
 *
 * Deterministic for a given Node.js/ICU version; tokens are never empty and never contain
 * whitespace.
 *
 * @example
 * tokenize("What's a roux? 350°F") // ['what', 's', 'a', 'roux', '350', '°', 'f']
 * tokenize('天ぷらの揚げ方') // ['天ぷら', 'の', '揚げ', '方']
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const normalised = text.normalize('NFKC').toLowerCase();
  for (const match of normalised.matchAll(TOKEN)) {
    const token = match[0];
    if (token.length > 1 && UNSPACED.test(token)) {
      segmenter ??= new Intl.Segmenter('ja', { granularity: 'word' });
      for (const piece of segmenter.segment(token)) out.push(piece.segment);
    } else {
      out.push(token);
    }
  }
  return out;
}
