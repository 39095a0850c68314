#include "imap-utf7.h"

#include <string.h>
#include <glib.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static void flush_utf16(GString *out, const gunichar2 *u, size_t n)
{
	unsigned bits = 0, nbits = 0;
	g_string_append_c(out, '&');
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16) | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			g_string_append_c(out, b64[(bits >> nbits) & 0x3f]);
		}
	}
	if (nbits > 0)
		g_string_append_c(out, b64[(bits << (6 - nbits)) & 0x3f]);
	g_string_append_c(out, '-');
}

char *mb_imap_utf7_encode(const char *utf8)
{
	char *valid = g_utf8_make_valid(utf8, -1);
	GString *out = g_string_new(NULL);
	GArray *run = g_array_new(FALSE, FALSE, sizeof(gunichar2));
	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c >= 0x20 && c <= 0x7e) {
			if (run->len) {
				flush_utf16(out, (gunichar2 *)(void *)run->data, run->len);
				g_array_set_size(run, 0);
			}
			if (c == '&')
				g_string_append(out, "&-");
			else
				g_string_append_c(out, (char)c);
			continue;
		}
		if (c >= 0x10000) {
			gunichar2 hi = (gunichar2)(0xd800 + ((c - 0x10000) >> 10));
			gunichar2 lo = (gunichar2)(0xdc00 + ((c - 0x10000) & 0x3ff));
			g_array_append_val(run, hi);
			g_array_append_val(run, lo);
		} else {
			gunichar2 u = (gunichar2)c;
			g_array_append_val(run, u);
		}
	}
	if (run->len)
		flush_utf16(out, (gunichar2 *)(void *)run->data, run->len);
	g_array_free(run, TRUE);
	g_free(valid);
	return g_string_free(out, FALSE);
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

char *mb_imap_utf7_decode(const char *in)
{
	GString *out = g_string_new(NULL);
	const char *p = in;
	while (*p) {
		unsigned char ch = (unsigned char)*p;
		if (ch >= 0x80 || ch < 0x20 || ch == 0x7f)
			goto bad;
		if (ch != '&') {
			g_string_append_c(out, (char)ch);
			p++;
			continue;
		}
		p++;
		if (*p == '-') {
			g_string_append_c(out, '&');
			p++;
			continue;
		}
		unsigned bits = 0, nbits = 0;
		gunichar2 hi = 0;
		size_t units = 0;
		while (*p && *p != '-') {
			int v = b64_value(*p++);
			if (v < 0)
				goto bad;
			bits = (bits << 6) | (unsigned)v;
			nbits += 6;
			if (nbits >= 16) {
				nbits -= 16;
				gunichar2 u = (gunichar2)((bits >> nbits) & 0xffff);
				units++;
				if (hi) {
					if (u < 0xdc00 || u > 0xdfff)
						goto bad;
					gunichar c = 0x10000 + (((gunichar)hi - 0xd800) << 10) + (u - 0xdc00);
					g_string_append_unichar(out, c);
					hi = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					goto bad;
				} else if (u >= 0x20 && u <= 0x7e) {
					goto bad; /* must have been written directly */
				} else {
					g_string_append_unichar(out, u);
				}
			}
		}
		/* Leftover bits must be zero padding of fewer than 6 bits. */
		if (*p != '-' || hi || units == 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)))
			goto bad;
		p++;
	}
	return g_string_free(out, FALSE);
bad:
	g_string_free(out, TRUE);
	return NULL;
}
