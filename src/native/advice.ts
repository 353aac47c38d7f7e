/**
 * madvise advice by name, as the addon accepts it (the numeric values live in native/mapping.cc).
 * Invariant: this list and the addon's table name the same advice.
 */
export type Advice = 'hugepage' | 'nohugepage' | 'dontneed' | 'free' | 'collapse' | 'willneed' | 'normal';

export const ADVICE: readonly Advice[] = ['hugepage', 'nohugepage', 'dontneed', 'free', 'collapse', 'willneed', 'normal'];
