/* test_route.c - route parsing, formatting and codes. */
#include <stdio.h>
#include <string.h>

#include "route.h"

static int failures, checks;

static void
expect(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s\n", what);
	}
}

int
main(void)
{
	struct route_space space;
	struct duo_error err;
	uint8_t choices[12], back[12];
	char text[13];
	uint64_t code;

	expect(route_parse("BS.B", 4, choices, &err) == 0, "parse BS.B");
	expect(choices[0] == CHOICE_BIG && choices[1] == CHOICE_SMALL &&
	    choices[2] == CHOICE_SKIP && choices[3] == CHOICE_BIG,
	    "parsed choices");
	route_format(choices, 4, text);
	expect(strcmp(text, "BS.B") == 0, "format BS.B");
	expect(route_budget(choices, 4) == 2, "budget of BS.B is 2");

	expect(route_parse("BSB", 4, choices, &err) == -1 &&
	    strstr(err.message, "3 characters") != NULL &&
	    strstr(err.message, "4 layers") != NULL,
	    "wrong length names both lengths");
	expect(route_parse("BSxB", 4, choices, &err) == -1 &&
	    strstr(err.message, "character 3 is 'x'") != NULL,
	    "wrong character is named with its place");
	expect(route_parse("bsbs", 4, choices, &err) == -1,
	    "lower case is rejected");

	expect(route_space_parse(&space, "BS.", &err) == 0 &&
	    space.n_choices == 3, "space BS.");
	expect(route_space_parse(&space, "SB", &err) == -1 &&
	    strstr(err.message, "'SB'") != NULL, "space SB rejected");

	/* Codes: layer 0 most significant, digit = index in the name. */
	route_space_parse(&space, "BS", &err);
	route_parse("SBBB", 4, choices, &err);
	expect(route_encode(&space, choices, 4) == 8, "BS code of SBBB is 8");
	route_parse("BBBS", 4, choices, &err);
	expect(route_encode(&space, choices, 4) == 1, "BS code of BBBS is 1");
	route_space_parse(&space, "B.", &err);
	route_parse("B..B", 4, choices, &err);
	expect(route_encode(&space, choices, 4) == 6, "B. code of B..B is 6");
	route_space_parse(&space, "BS.", &err);
	route_parse(".SB", 3, choices, &err);
	expect(route_encode(&space, choices, 3) == 2 * 9 + 1 * 3 + 0,
	    "BS. code of .SB is 21");
	expect(route_space_size(&space, 12) == 531441, "3^12 routes");
	expect(route_space_size(&space, 41) == 0, "3^41 does not fit");

	for (code = 0; code < 531441; code += 997) {
		route_decode(&space, code, 12, back);
		if (route_encode(&space, back, 12) != code) {
			expect(0, "decode then encode gives the code back");
			break;
		}
	}
	printf("route: %d of %d checks passed\n", checks - failures, checks);
	return failures == 0 ? 0 : 1;
}
