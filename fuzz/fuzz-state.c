/*
 * fuzz-state.c - state_parse_target() on a target's state file as a crash,
 * a full disk, an older or newer daemon, or a person with an editor left it.
 *
 * Whatever parses must be stable: formatted with state_format_target() and
 * parsed back, it formats to the same text; and its floor is never below its
 * version (the floor only goes up).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "manifest.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target_state st, back;
	char *text = NULL, *again = NULL;
	size_t len, len2;
	int r;

	r = state_parse_target((const char *)data, size, &st);
	if (r < 0) {
		/* Damaged reads as "never". */
		if (st.version || st.floor || st.previous_version || st.last_error || st.rolled_back_from ||
		    st.sha256_hex[0] || st.updated_at != -1 || st.previous_mode != -1)
			abort();
		return 0;
	}
	if (st.version && (!st.floor || version_compare(st.floor, st.version) < 0))
		abort();
	if (st.previous_mode < -1 || st.previous_mode > 07777)
		abort();
	if (state_format_target(&st, &text, &len) < 0)
		abort();
	if (state_parse_target(text, len, &back) < 0)
		abort();
	if (state_format_target(&back, &again, &len2) < 0)
		abort();
	if (len != len2 || memcmp(text, again, len) != 0)
		abort();
	free(text);
	free(again);
	target_state_clear(&st);
	target_state_clear(&back);
	return 0;
}
