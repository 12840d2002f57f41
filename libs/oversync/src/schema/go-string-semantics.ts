// Go string behaviour the reference's normalisation and messages depend on: one implementation,
// the protocol library's (checked against Go itself in its parity tests).
export { goTrimSpace, goToLower, goQuote, compareUtf8 } from '@oversync/protocol';
