/**
 * The SES configuration sets, as the stacks create them and the local SES endpoint emulates them. No CDK
 * here: the local runtime reads this module too.
 *
 * Which reasons of the account-level suppression list each set honours: newsletters honour both, so an
 * address that bounced for good, complained or was erased gets no newsletter; transactional mail (the
 * confirmation email) honours complaints only, so a reader whose address once bounced, or who was
 * erased, can subscribe again and receive the confirmation (confirming lifts the suppression). A
 * complained address is refused at subscribe time anyway.
 */
export type SuppressedReason = 'BOUNCE' | 'COMPLAINT';

export const CONFIGURATION_SETS = {
  newsletter: { name: 'newsletter', suppressedReasons: ['BOUNCE', 'COMPLAINT'] as readonly SuppressedReason[] },
  transactional: { name: 'transactional', suppressedReasons: ['COMPLAINT'] as readonly SuppressedReason[] },
} as const;

/**
 * The reason an erasure is recorded with on SES's list (SES knows only BOUNCE and COMPLAINT): BOUNCE, so
 * that no newsletter reaches the address while a confirmation email still can, should the reader come back.
 */
export const ERASURE_REASON: SuppressedReason = 'BOUNCE';
