/*
 * export.c - the writer of "duo export" and the browser's ":export": a
 * run's results as CSV (RFC 4180, every field of text quoted) or as one
 * JSON object (RFC 8259) with the run, its model and its rows.
 */
#include <string.h>

#include "export.h"
#include "utf8.h"

/* A CSV field per RFC 4180: always quoted, quotes doubled. */
static void
csv_write_string(FILE *out, const char *bytes, size_t length)
{
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0, n;

	fputc('"', out);
	while (i < length) {
		n = utf8_sequence_length(s + i, length - i);
		if (n == 0 || s[i] == 0) {
			fputs("\xef\xbf\xbd", out);
			i++;
		} else if (s[i] == '"') {
			fputs("\"\"", out);
			i++;
		} else {
			fwrite(s + i, 1, n, out);
			i += n;
		}
	}
	fputc('"', out);
}

/* A CSV field that is written as it is when it needs no quotes (a
 * method or a route, as duo stores them), else as csv_write_string()
 * writes it: the database may hold anything. */
static void
csv_write_field(FILE *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)(text != NULL ? text :
	    "");
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] < 0x20 || s[i] >= 0x7f)
			break;
	if (s[i] == '\0')
		fputs((const char *)s, out);
	else
		csv_write_string(out, (const char *)s, strlen((const char *)s));
}

/* A JSON string (RFC 8259): quotes, backslashes and control characters
 * escaped. */
static void
json_write_string(FILE *out, const char *bytes, size_t length)
{
	static const char short_escapes[][2] = {
		{ '\b', 'b' }, { '\f', 'f' }, { '\n', 'n' }, { '\r', 'r' },
		{ '\t', 't' }, { '"', '"' }, { '\\', '\\' },
	};
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0, n, k;

	if (bytes == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (i < length) {
		for (k = 0; k < sizeof short_escapes / sizeof short_escapes[0];
		    k++)
			if (s[i] == (unsigned char)short_escapes[k][0])
				break;
		if (k < sizeof short_escapes / sizeof short_escapes[0]) {
			fputc('\\', out);
			fputc(short_escapes[k][1], out);
			i++;
			continue;
		}
		n = utf8_sequence_length(s + i, length - i);
		if (n == 0 || s[i] == 0) {
			fputs("\\ufffd", out);
			i++;
		} else if (s[i] < 0x20) {
			fprintf(out, "\\u%04x", s[i]);
			i++;
		} else {
			fwrite(s + i, 1, n, out);
			i += n;
		}
	}
	fputc('"', out);
}

static void
json_write_text(FILE *out, const char *text)
{
	json_write_string(out, text, text != NULL ? strlen(text) : 0);
}

static void
export_csv(FILE *out, const struct run_data *run)
{
	const struct result_record *r;
	const struct token_record *t;
	size_t i;

	fputs("run_id,pos,token_id,piece,method,budget,route,loss\n", out);
	for (i = 0; i < run->n_results; i++) {
		r = &run->results[i];
		t = &run->tokens[r->pos];
		fprintf(out, "%lld,%d,%d,", (long long)run->info.id, r->pos,
		    (int)t->token_id);
		csv_write_string(out, t->piece, t->piece_length);
		/* duo stores plain methods and routes, which stay bare;
		 * anything else a database holds is quoted */
		fputc(',', out);
		csv_write_field(out, r->method);
		fprintf(out, ",%d,", r->budget);
		csv_write_field(out, r->route);
		fprintf(out, ",%.9g\n", r->loss);
	}
}

static void
export_json(FILE *out, const struct run_data *run)
{
	const struct run_info *info = &run->info;
	const struct result_record *r;
	const struct token_record *t;
	size_t i;

	fprintf(out, "{\n\"run\": {\"id\": %lld, \"label\": ",
	    (long long)info->id);
	json_write_text(out, info->label);
	fputs(", \"created_at\": ", out);
	json_write_text(out, info->created_at);
	fputs(", \"source\": ", out);
	json_write_text(out, info->source);
	fprintf(out, ", \"n_tokens\": %lld, \"space\": ",
	    (long long)info->n_tokens);
	json_write_text(out, info->space);
	fputs(", \"context\": ", out);
	json_write_text(out, info->context);
	fputs(", \"context_route\": ", out);
	json_write_text(out, info->context_route);
	fprintf(out, ", \"approximate\": %s, \"beam_width\": ",
	    info->approximate ? "true" : "false");
	if (info->beam_width > 0)
		fprintf(out, "%d", info->beam_width);
	else
		fputs("null", out);
	fprintf(out, ", \"seconds\": %.9g, \"duo_version\": ", info->seconds);
	json_write_text(out, info->duo_version);
	/* duo writes settings as a JSON object, which goes out as it is;
	 * anything else a shared database holds there goes out as a JSON
	 * string of its text, so that the document stays JSON (duo-db(5)) */
	fputs(", \"settings\": ", out);
	if (info->settings_is_object)
		fputs(info->settings, out);
	else
		json_write_string(out, info->settings, info->settings_length);
	fputs(",\n\"model\": {\"sha256\": ", out);
	json_write_text(out, info->model_sha256);
	fputs(", \"name\": ", out);
	json_write_text(out, info->model_name);
	fputs(", \"path\": ", out);
	json_write_text(out, info->model_path);
	fprintf(out, ", \"n_layer\": %d, \"d_model\": %d, \"n_head\": %d, "
	    "\"d_ff\": %d, \"d_ff_small\": %d, \"n_vocab\": %d, "
	    "\"n_ctx\": %d}},\n\"rows\": [", info->n_layer, info->d_model,
	    info->n_head, info->d_ff, info->d_ff_small, info->n_vocab,
	    info->n_ctx);
	for (i = 0; i < run->n_results; i++) {
		r = &run->results[i];
		t = &run->tokens[r->pos];
		fprintf(out, "%s\n{\"run_id\": %lld, \"pos\": %d, "
		    "\"token_id\": %d, \"piece\": ", i > 0 ? "," : "",
		    (long long)info->id, r->pos, (int)t->token_id);
		json_write_string(out, t->piece, t->piece_length);
		fputs(", \"method\": ", out);
		json_write_text(out, r->method);
		fprintf(out, ", \"budget\": %d, \"route\": ", r->budget);
		json_write_text(out, r->route);
		fprintf(out, ", \"loss\": %.9g}", r->loss);
	}
	fputs("\n]}\n", out);
}

int
export_format_parse(const char *name, enum export_format *format)
{
	if (strcmp(name, "csv") == 0)
		*format = EXPORT_CSV;
	else if (strcmp(name, "json") == 0)
		*format = EXPORT_JSON;
	else
		return -1;
	return 0;
}

void
export_write(FILE *out, const struct run_data *run,
    enum export_format format)
{
	if (format == EXPORT_CSV)
		export_csv(out, run);
	else
		export_json(out, run);
}
