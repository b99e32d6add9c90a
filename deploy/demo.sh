#!/usr/bin/env bash
# A walk through one quarterly business review, from `needed` to `closed`, on a throw-away
# XBR_HOME: the staff, the client, the review, its tasks and every gate, then the audit trail.
set -euo pipefail
cd "$(dirname "$0")/.."
XBR=".venv/bin/xbr"
export XBR_HOME="${XBR_HOME:-$(mktemp -d -t xbr-demo-XXXXXX)}"
unset XBR_DATABASE_URL
export COLUMNS="${COLUMNS:-120}"  # wide tables when the output is piped

say() { printf '\n\033[1;36m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ xbr %s\033[0m\n' "$*"; "$XBR" "$@"; }

# Close every open task of the review's current phase, each by the person it is assigned to.
close_phase_tasks() {
  "$XBR" review show "$1" --json | .venv/bin/python -c '
import json, sys
review = json.load(sys.stdin)
for task in review["tasks"]:
    if task["phase"] == review["status"] and task["status"] == "open":
        print(task["key"], task["assignee"])' |
  while read -r key who; do run task done "$1" "$key" --as "$who" --hours 0.25; done
}

say "A fresh xbr home in $XBR_HOME"
run init

say "The MSP's people and their roles"
run person add "Vera Vcio" --email vera@msp.example --role vcio --role ceo
run person add "Andy Account" --email andy@msp.example --role account_manager --role sales_assistant
run person add "Olga Ops" --email olga@msp.example --role ops_manager --role team_lead --role exec_assistant
run person add "Sam Support" --email sam@msp.example --role support_engineer --role security_engineer
run person add "Ivan Intern" --email ivan@msp.example --role intern
run person add "Carl Contact" --email carl@acme-law.example --role client_contact

say "A client that meets quarterly, in its own time zone"
run client add "Acme Law" --cadence quarterly --template qbr --timezone America/New_York
run client assign "Acme Law" --role client_contact --email carl@acme-law.example

say "Start its QBR (without a flow run: this walk drives it from the command line)"
ID=$("$XBR" review start "Acme Law" --no-flow --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "review $ID"
run review show "$ID"

say "needed: confirm the scope, then the ops manager approves"
close_phase_tasks "$ID"
run approve "$ID" --as olga@msp.example --comment "agreement checked"

say "scheduling: book the meeting; the gate needs a future meeting date"
close_phase_tasks "$ID"
MEETING=$(.venv/bin/python -c 'import datetime as d; print((d.date.today() + d.timedelta(weeks=6)).isoformat() + "T10:00")')
run approve "$ID" --as olga@msp.example --meeting "$MEETING"

say "scheduled: pull it into staging before its date (WIP limit permitting)"
run approve "$ID" --as olga@msp.example
run board

say "staging, prep, delivery, follow-up: the responsible people close their tasks, the accountable approve"
for phase in staging prep delivery follow_up; do
  close_phase_tasks "$ID"
  approver=$("$XBR" review show "$ID" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["gate"]["eligible_approvers"][0])')
  run approve "$ID" --as "$approver" --phase "$phase"
done

say "qa_review: a second person checks the work and closes the review"
close_phase_tasks "$ID"
run approve "$ID" --as vera@msp.example --phase qa_review --comment "all tasks and time entered"

say "The closed review, with every transition in its audit trail"
run review show "$ID"
