/* vipsref is the libvips side of cmd/imagebench: the photo job done the
 * way a careful libvips user would do it, in one process.
 *
 *   vipsref [-n JOBS] [-p PARALLEL] [-png] OUTDIR INPUT
 *
 * Each job reads INPUT from disk (as our worker reads its download) and
 * writes into OUTDIR/<job>/:
 *   - w2048: vips_thumbnail_buffer, so a JPEG is shrunk while it loads,
 *     exported to sRGB when the source carries an ICC profile. An untagged
 *     image is taken as sRGB, as ours does, and left alone: given
 *     export_profile, libvips 8.14 would run it through lcms all the same,
 *     which costs time and moves its colours (RMSE 4% on RainDrops.jpg);
 *   - w1024, w320 and the 150x150 centre crop, made from the w2048 pixels
 *     held in memory, never from the source again;
 *   - each as JPEG Q82, progressive, optimized Huffman tables, stripped,
 *     with a WebP Q82 (stripped) beside it. With -png, lossless PNG
 *     instead, so the resizer can be judged without the encoder's loss.
 *
 * PARALLEL jobs run at once on their own threads (libvips adds its own
 * worker threads inside each). The operation cache is off: a server that
 * processes uploads never sees the same one twice.
 *
 * On success it prints one line: the CPU seconds (user+system, all
 * threads) and wall seconds spent on the jobs alone, after vips_init, and
 * the peak RSS in KiB.
 *
 * Built at bench time: cc vipsref.c $(pkg-config --cflags --libs vips)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <vips/vips.h>

static const char *outdir;
static const char *input;
static int use_png;
static int njobs = 1;

static pthread_mutex_t next_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_job;
static int failed;

static int
write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb"))) {
		fprintf(stderr, "vipsref: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "vipsref: write %s failed\n", path);
		return -1;
	}
	return 0;
}

/* save writes one rendition in each format the job asks for. */
static int
save(VipsImage *img, const char *dir, const char *name)
{
	void *buf;
	size_t len;
	char file[256];

	if (use_png) {
		if (vips_pngsave_buffer(img, &buf, &len, "strip", TRUE, NULL))
			return -1;
		snprintf(file, sizeof(file), "%s.png", name);
		int r = write_file(dir, file, buf, len);
		g_free(buf);
		return r;
	}
	if (vips_jpegsave_buffer(img, &buf, &len,
		    "Q", 82,
		    "interlace", TRUE,
		    "optimize_coding", TRUE,
		    "strip", TRUE,
		    NULL))
		return -1;
	snprintf(file, sizeof(file), "%s.jpg", name);
	int r = write_file(dir, file, buf, len);
	g_free(buf);
	if (r)
		return r;
	/* libvips 8.14's webpsave writes the source's EXIF block despite
	 * strip (5.8 kB on every RainDrops output, whatever fields are
	 * removed first), so the WebP is made from the bare pixels: a
	 * careful user would do the same. */
	size_t n;
	void *pix = vips_image_write_to_memory(img, &n);
	if (!pix)
		return -1;
	VipsImage *bare = vips_image_new_from_memory(pix, n,
	    img->Xsize, img->Ysize, img->Bands, img->BandFmt);
	if (!bare) {
		g_free(pix);
		return -1;
	}
	r = vips_webpsave_buffer(bare, &buf, &len, "Q", 82, "strip", TRUE, NULL);
	g_object_unref(bare);
	g_free(pix);
	if (r)
		return -1;
	snprintf(file, sizeof(file), "%s.webp", name);
	r = write_file(dir, file, buf, len);
	g_free(buf);
	return r;
}

static int
job(int i)
{
	char dir[4096];
	gchar *data;
	gsize len;
	GError *err = NULL;
	VipsImage *big, *mem, *small;
	int r = -1;

	snprintf(dir, sizeof(dir), "%s/%d", outdir, i);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "vipsref: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!g_file_get_contents(input, &data, &len, &err)) {
		fprintf(stderr, "vipsref: %s\n", err->message);
		g_error_free(err);
		return -1;
	}
	/* The header alone says whether there is a profile; the pixels are
	 * not decoded here. */
	VipsImage *hdr = vips_image_new_from_buffer(data, len, "", NULL);
	if (!hdr)
		goto out_data;
	int tagged = vips_image_get_typeof(hdr, VIPS_META_ICC_NAME) != 0;
	g_object_unref(hdr);
	if (tagged ?
		vips_thumbnail_buffer(data, len, &big, 2048,
		    "height", 2048, "size", VIPS_SIZE_DOWN,
		    "export_profile", "srgb", NULL) :
		vips_thumbnail_buffer(data, len, &big, 2048,
		    "height", 2048, "size", VIPS_SIZE_DOWN, NULL))
		goto out_data;
	/* The three smaller sizes read the w2048 pixels: render them once. */
	mem = vips_image_copy_memory(big);
	g_object_unref(big);
	if (!mem)
		goto out_data;
	if (save(mem, dir, "w2048"))
		goto out_mem;
	static const struct {
		const char *name;
		int size, crop;
	} smaller[] = {
		{ "w1024", 1024, 0 },
		{ "w320", 320, 0 },
		{ "thumb150", 150, 1 },
	};
	for (size_t k = 0; k < sizeof(smaller) / sizeof(smaller[0]); k++) {
		if (vips_thumbnail_image(mem, &small, smaller[k].size,
			    "height", smaller[k].size,
			    "size", VIPS_SIZE_DOWN,
			    "crop", smaller[k].crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE,
			    NULL))
			goto out_mem;
		int s = save(small, dir, smaller[k].name);
		g_object_unref(small);
		if (s)
			goto out_mem;
	}
	r = 0;
out_mem:
	g_object_unref(mem);
out_data:
	g_free(data);
	return r;
}

static void *
worker(void *arg)
{
	(void) arg;
	for (;;) {
		pthread_mutex_lock(&next_lock);
		int i = next_job < njobs && !failed ? next_job++ : -1;
		pthread_mutex_unlock(&next_lock);
		if (i < 0)
			break;
		if (job(i)) {
			fprintf(stderr, "vipsref: job %d: %s", i, vips_error_buffer());
			pthread_mutex_lock(&next_lock);
			failed = 1;
			pthread_mutex_unlock(&next_lock);
		}
		vips_thread_shutdown();
	}
	return NULL;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	int parallel = 1;
	int a = 1;

	if (VIPS_INIT(argv[0]))
		vips_error_exit(NULL);
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-n") && a + 1 < argc)
			njobs = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-p") && a + 1 < argc)
			parallel = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-png"))
			use_png = 1;
		else
			break;
	}
	if (argc - a != 2 || njobs < 1 || parallel < 1) {
		fprintf(stderr, "usage: vipsref [-n JOBS] [-p PARALLEL] [-png] OUTDIR INPUT\n");
		return 2;
	}
	outdir = argv[a];
	input = argv[a + 1];
	vips_cache_set_max(0);

	double c0 = cpu_seconds(), w0 = wall_seconds();
	pthread_t th[64];
	if (parallel > 64)
		parallel = 64;
	for (int t = 0; t < parallel; t++)
		pthread_create(&th[t], NULL, worker, NULL);
	for (int t = 0; t < parallel; t++)
		pthread_join(th[t], NULL);
	double c1 = cpu_seconds(), w1 = wall_seconds();
	if (failed)
		return 1;

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%.6f %.6f %ld\n", c1 - c0, w1 - w0, ru.ru_maxrss);
	vips_shutdown();
	return 0;
}
