#!/bin/sh
# tokenizer_ref.sh - compare duo's tokenizer with the independent Python
# reference (tests/reference/bpe_ref.py): the ids of every test text and of
# generated inputs, and the merges learned in training.
#
# Environment: srcdir (set by make check; default .), PYTHON (default
# /usr/bin/python3, which must have the regex module, Debian's
# python3-regex), TOKENIZER_DUMP (default tests/tokenizer_dump).
# Exit status: 0 equal, 1 a difference, 77 no Python with regex, 99 error.

srcdir=${srcdir:-.}
python=${PYTHON:-/usr/bin/python3}
dump=${TOKENIZER_DUMP:-tests/tokenizer_dump}
texts="$srcdir/tests/texts/harbour.txt $srcdir/tests/texts/workshop.txt
    $srcdir/tests/texts/travels.txt"

if ! "$python" -c 'import regex' 2>/dev/null; then
	echo "SKIP: $python cannot import regex (apt-get install python3-regex)"
	exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/duo-tokenizer.XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT

status=0
# 600 tokens learned from texts and generated inputs alike (merges of
# invalid UTF-8, multibyte characters, long runs); then the texts alone
# with a vocabulary too big to fill, so that training stops early on
# pairs of count 1 and the ties at count 2 are all decided.
for run in "-a 600" "30000"; do
	set -- $run
	if [ "$1" = "-a" ]; then
		all=-a
		vocab=$2
	else
		all=
		vocab=$1
	fi
	rm -rf "$dir/run"
	mkdir "$dir/run" || exit 99
	# shellcheck disable=SC2086
	"$dump" $all "$dir/run" "$vocab" $texts || exit 99
	"$python" "$srcdir/tests/reference/bpe_ref.py" "$dir/run"
	rc=$?
	case $rc in
	0) ;;
	1) status=1 ;;
	*) exit 99 ;;
	esac
done
exit $status
