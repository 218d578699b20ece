#!/bin/sh
# convert_command.sh - under the fixed method the detail pane shows the
# command that writes the fixed route at the budget as a dense model for
# llama.cpp ("duo convert --route RUN:fixed@K"); under other methods it
# does not.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db

ui_test convert_command 100x40 <<'KEYS'
Enter
dump
:method fixed
dump
KEYS
check "the fixed method's convert command, wrapped in a narrow pane" \
    grep -q '^ *1:fixed@3 IN OUT' "$tmp/convert_command.out"
check "only under the fixed method" \
    test "$(grep -c 'for llama.cpp:' "$tmp/convert_command.out")" -eq 1
ui_done
