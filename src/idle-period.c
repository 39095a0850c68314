#include "idle-period.h"

#include <stdbool.h>

/* The most a fit may be owed to chance: delays spread at random over a
 * keepalive of 10 minutes give the hint in about 1 session of 300 (16
 * pushes looked at), one at a fixed 60 s period after 3 or 4 pushes. */
#define CHANCE_MAX 0.002
/* Longer delays are no IDLE's (RFC 2177: renewed within 29 minutes). */
#define DELAY_MAX 3600.0
/* Pushes looked at; more say nothing new. */
#define SAMPLES_MAX 64

/* The nearest whole number of x >= 0 (no libm for three calls). */
static double nearest(double x)
{
	return (double)(unsigned long long)(x + 0.5);
}

unsigned mb_idle_period(const double *delays, size_t n)
{
	double d[SAMPLES_MAX];
	size_t m = 0;
	double longest = 0;
	for (size_t i = 0; i < n && m < SAMPLES_MAX; i++) {
		if (!(delays[i] >= MB_IDLE_PERIOD_TOLERANCE && delays[i] <= DELAY_MAX)) /* also NaN */
			continue;
		d[m++] = delays[i];
		if (delays[i] > longest)
			longest = delays[i];
	}
	if (m < MB_IDLE_PERIOD_SAMPLES)
		return 0;
	/* Try P = longest / k, longest first: each guess fixes the multiple
	 * of every delay, a least-squares fit then gives the period they
	 * share. k guesses make a chance fit k times as likely, and one
	 * delay fits a given P by chance with probability 2 * tolerance / P. */
	for (unsigned k = 1;; k++) {
		double guess = longest / k;
		if (guess < MB_IDLE_PERIOD_MIN - MB_IDLE_PERIOD_TOLERANCE)
			return 0;
		double num = 0, den = 0;
		bool ok = true;
		for (size_t i = 0; i < m && ok; i++) {
			double mult = nearest(d[i] / guess);
			ok = mult >= 1;
			num += mult * d[i];
			den += mult * mult;
		}
		if (!ok)
			continue;
		double period = num / den;
		if (nearest(period) < MB_IDLE_PERIOD_MIN) /* 9.99 s is a 10 s timer */
			continue;
		for (size_t i = 0; i < m && ok; i++) {
			double off = d[i] - nearest(d[i] / guess) * period;
			ok = off <= MB_IDLE_PERIOD_TOLERANCE && off >= -MB_IDLE_PERIOD_TOLERANCE;
		}
		if (!ok)
			continue;
		double chance = k;
		for (size_t i = 1; i < m; i++)
			chance *= 2 * MB_IDLE_PERIOD_TOLERANCE / period;
		return chance <= CHANCE_MAX ? (unsigned)nearest(period) : 0;
	}
}
