// SPDX-License-Identifier: Apache-2.0
/*
 * Text tables whose columns are sized to their content (agent/cmd/cmd.h, struct kg_table).
 * Widths count code points, not bytes: a cell is made printable first (control bytes and
 * bytes that are not UTF-8 become '?'), so a name in UTF-8 takes the columns it shows in.
 * (East Asian wide characters take two columns on a terminal and are counted as one: the
 * row is then off by one, never cut wrongly.)
 */
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"

/* Between two columns. */
#define TABLE_GAP 2
/* U+2026, what a shortened cell shows where its cut part was. */
#define ELLIPSIS "\xe2\x80\xa6"

char *kg_table_cell(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);

	if (!out)
		abort(); /* as kg_buf: the command cannot go on without memory */
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t u = c >= 0x80 ? kg_utf8_len(s + i, n - i) : 0;

		if (u) {
			memcpy(out + o, s + i, u);
			o += u;
			i += u;
			continue;
		}
		out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		i++;
	}
	out[o] = 0;
	return out;
}

/* Code points of a printable cell (every byte but UTF-8 continuation bytes). */
static unsigned width_of(const char *s)
{
	unsigned w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* The byte offset of code point k of s. */
static size_t offset_of(const char *s, unsigned k)
{
	size_t i = 0;

	for (; s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && !k--)
			break;
	return i;
}

void kg_table_init(struct kg_table *t, struct kg_col *cols, int ncols, unsigned budget)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
	t->budget = budget;
	for (int c = 0; c < ncols; c++)
		cols[c].width = width_of(cols[c].head);
}

void kg_table_add(struct kg_table *t, char **cells, char *line)
{
	struct kg_trow *r;

	t->rows = kg_grow(t->rows, t->nrows, sizeof(*t->rows));
	if (!t->rows)
		abort();
	r = &t->rows[t->nrows++];
	r->cells = cells;
	r->line = line;
	for (int c = 0; cells && c < t->ncols; c++) {
		unsigned w = width_of(cells[c]);

		if (w > t->cols[c].width)
			t->cols[c].width = w;
	}
}

void kg_table_fit(struct kg_table *t)
{
	unsigned total = 0;

	for (int c = 0; c < t->ncols; c++)
		total += t->cols[c].width + (c ? TABLE_GAP : 0);
	/*
	 * Take a column off the widest cell that may be shortened, until the line fits: long
	 * cells give way first and short ones (a principal) keep their text unless everything
	 * else is already as narrow. A column marked last gives way only when no other can.
	 * Ties go to the rightmost column.
	 */
	while (t->budget && total > t->budget) {
		int best = -1;

		for (int pass = 0; pass < 2 && best < 0; pass++) {
			for (int c = t->ncols - 1; c >= 0; c--) {
				const struct kg_col *k = &t->cols[c];

				if (k->min && k->width > k->min && k->last == (pass == 1) &&
				    (best < 0 || k->width > t->cols[best].width))
					best = c;
			}
		}
		if (best < 0)
			break; /* every column at its floor: the line runs over the budget */
		t->cols[best].width--;
		total--;
	}
}

/* One cell in width columns: shortened with an ellipsis when longer (only with a budget,
 * and never in a column without a floor: it runs over instead), padded with spaces unless
 * it is the last cell of the line. Returns the columns it took. */
static unsigned put_cell(const struct kg_table *t, const struct kg_col *k, unsigned width,
			 const char *s, bool last, FILE *f)
{
	unsigned w = width_of(s);

	if (t->budget && k->min && w > width && width >= 2) {
		if (k->keep_end) {
			fputs(ELLIPSIS, f);
			fputs(s + offset_of(s, w - (width - 1)), f);
		} else {
			fwrite(s, 1, offset_of(s, width - 1), f);
			fputs(ELLIPSIS, f);
		}
		w = width;
	} else {
		fputs(s, f);
	}
	if (!last && w < width)
		fprintf(f, "%*s", (int)(width - w), "");
	return w > width ? w : width;
}

static void put_row(struct kg_table *t, char **cells, FILE *f)
{
	/* what a cell that ran over its column took from the line: the columns after it
	 * give it back, down to their floors, so the line keeps to the budget */
	unsigned debt = 0;

	for (int c = 0; c < t->ncols; c++) {
		struct kg_col *k = &t->cols[c];
		unsigned w = width_of(cells[c]), width = k->width, took;

		/* without a budget a column widens for a longer cell (the lines after follow) */
		if (!t->budget && w > k->width)
			k->width = width = w;
		if (k->min && debt && width > k->min) {
			unsigned give = width - k->min < debt ? width - k->min : debt;

			width -= give;
			debt -= give;
		}
		if (c)
			fprintf(f, "%*s", TABLE_GAP, "");
		took = put_cell(t, k, width, cells[c], c == t->ncols - 1, f);
		debt += took - width;
	}
	fputc('\n', f);
}

void kg_table_print_header(struct kg_table *t, FILE *f)
{
	for (int c = 0; c < t->ncols; c++) {
		if (c)
			fprintf(f, "%*s", TABLE_GAP, "");
		put_cell(t, &t->cols[c], t->cols[c].width, t->cols[c].head, c == t->ncols - 1, f);
	}
	fputc('\n', f);
}

static void free_row(struct kg_table *t, char **cells, char *line)
{
	for (int c = 0; cells && c < t->ncols; c++)
		free(cells[c]);
	free(cells);
	free(line);
}

void kg_table_print(struct kg_table *t, char **cells, char *line, FILE *f)
{
	if (line)
		fprintf(f, "%s\n", line);
	else
		put_row(t, cells, f);
	free_row(t, cells, line);
}

void kg_table_flush(struct kg_table *t, FILE *f)
{
	for (size_t i = 0; i < t->nrows; i++)
		kg_table_print(t, t->rows[i].cells, t->rows[i].line, f);
	t->nrows = 0;
}

void kg_table_free(struct kg_table *t)
{
	for (size_t i = 0; i < t->nrows; i++)
		free_row(t, t->rows[i].cells, t->rows[i].line);
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}
