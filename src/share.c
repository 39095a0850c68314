#include "share.h"

enum mb_share_others mb_share_others_for(unsigned count, bool has_notify)
{
	if (count <= 1)
		return MB_SHARE_ALONE;
	return has_notify ? MB_SHARE_NOTIFY : MB_SHARE_STATUS;
}

unsigned mb_share_plan(unsigned n, bool has_notify, unsigned max_connections, struct mb_share *out)
{
	if (n == 0)
		n = 1;
	if (max_connections == 0)
		max_connections = 1;
	unsigned k = has_notify ? 1 : n < max_connections ? n : max_connections;
	for (unsigned i = 0; i < k; i++) {
		out[i].first = i;
		out[i].count = i < k - 1 ? 1 : n - i;
		out[i].others = mb_share_others_for(out[i].count, has_notify);
	}
	return k;
}
