/* Whether the pushes an IDLE session received only ever came on a fixed
 * period (servers.md S5, S7: Cyrus without idled, Courier with
 * IMAP_ENHANCEDIDLE=0 check mailboxes on a timer and answer IDLE in
 * between). Pure: no I/O, no clock. */
#ifndef MB_IDLE_PERIOD_H
#define MB_IDLE_PERIOD_H

#include <stddef.h>

/* The shortest period looked for, and how far a delay may lie from a
 * multiple of it, seconds. */
#define MB_IDLE_PERIOD_MIN 10.0
#define MB_IDLE_PERIOD_TOLERANCE 1.0
/* The fewest pushes that can show a period. */
#define MB_IDLE_PERIOD_SAMPLES 3

/* delays: n seconds from the start of an IDLE to a push (EXISTS) in it.
 * Delays under MB_IDLE_PERIOD_TOLERANCE (mail that came before the IDLE
 * began, told at once) and over an hour are left out. Returns the period
 * P, rounded to whole seconds, when at least MB_IDLE_PERIOD_SAMPLES delays
 * remain, every one lies within MB_IDLE_PERIOD_TOLERANCE of a multiple
 * (1, 2, ...) of the same P (rounded: >= MB_IDLE_PERIOD_MIN), and that fit is
 * unlikely to be chance (random delays fit some short period easily, so
 * shorter periods and larger multiples need more pushes); the longest such
 * P. Else 0. */
unsigned mb_idle_period(const double *delays, size_t n);

#endif
