/**
 * The most text a user's regular expression runs on: the first 1 MiB (1 048 576 UTF-16 code units) of a response
 * body, its header lines or its URL. Validity-check indicators (`{ in, regex }`) and extraction rules
 * (`{ regex }`) only look there. It bounds the work of patterns that are linear or nearly so (a quadratic pattern
 * over a 50 MB body would run for hours); login pages, API answers and the markers checks look for sit far inside
 * it. It does not make a catastrophically backtracking pattern (`(a+)+$`) safe: keep patterns simple.
 */
export const MAX_REGEX_INPUT_LENGTH = 1024 * 1024;

/** `text`, cut to {@link MAX_REGEX_INPUT_LENGTH}: what a user's regular expression is run on. */
export function regexInput(text: string): string {
    return text.length > MAX_REGEX_INPUT_LENGTH ? text.slice(0, MAX_REGEX_INPUT_LENGTH) : text;
}
