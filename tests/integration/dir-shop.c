/*
 * dir-shop.c - the three-file release of the directory-target tests: built
 * once as the library lib/libshop.so (-DSHOP_LIB) and once as bin/shop,
 * which loads it (rpath $ORIGIN/../lib) and reads share/data beside its own
 * executable. Each part is stamped with SHOP_VERSION, so one run shows which
 * release each of the three files came from:
 *
 *   shop              "bin=V lib=V data=D"
 *   shop --version    V; exit 1 when the data file says "broken" (a failing smoke test)
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef SHOP_LIB
const char *shop_lib_version(void);
const char *shop_lib_version(void)
{
	return SHOP_VERSION;
}
#else
const char *shop_lib_version(void);

int main(int argc, char **argv)
{
	char exe[4096], path[4200], data[128] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;

	if (n < 0)
		return 2;
	exe[n] = '\0';
	(void)snprintf(path, sizeof(path), "%s/../share/data", dirname(exe));
	f = fopen(path, "r");
	if (!f || !fgets(data, sizeof(data), f)) {
		printf("no data at %s\n", path);
		return 3;
	}
	fclose(f);
	data[strcspn(data, "\n")] = '\0';
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", SHOP_VERSION);
		return strstr(data, "broken") ? 1 : 0;
	}
	printf("bin=%s lib=%s data=%s\n", SHOP_VERSION, shop_lib_version(), data);
	return 0;
}
#endif
