#!/usr/bin/env bash
# The reads a lab author would script with the aws CLI to grade the same things `labrunner check`
# grades (every lab), one `aws` call after another. It does not judge the answers (a lower bound on
# what such a grading script costs), but every read must succeed: a failed call exits non-zero.
#
# Usage: eval "$(labrunner local env)"; bench/aws_cli_check.sh [STACK]   (default stack: immersion)
# Needs the aws CLI (awscli, in the test extra) on PATH or next to the python running the bench ($AWS).
# Prints one last line: `aws_cli_calls=N seconds=S`.
set -euo pipefail

STACK=${1:-immersion}
AWS=${AWS:-aws}
CALL_LOG=$(mktemp)
ERR_LOG=$(mktemp)
SCRIPT_PID=$$
trap 'rm -f "$CALL_LOG" "$ERR_LOG"' EXIT
trap 'exit 1' TERM
START=$(date +%s.%N)

# One read; its output on stdout. Every read must succeed: a non-zero exit (an error answer, a
# connection refused, a bad argument) stops the script with the call and its error on stderr, so the
# benchmark never times calls that failed. The aws CLI v1 sends SQS calls in us-east-1 to its legacy
# endpoint (queue.amazonaws.com) whatever AWS_ENDPOINT_URL says, hence the explicit --endpoint-url.
ENDPOINT=(${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"})
call() {
    echo "$1 $2" >>"$CALL_LOG" # counted in a file: calls inside $(...) run in a subshell
    local code=0
    "$AWS" "${ENDPOINT[@]}" --output text "$@" 2>"$ERR_LOG" || code=$?
    if ((code != 0)); then
        echo "aws_cli_check.sh: \`aws $*\` failed (exit $code): $(tail -n 3 "$ERR_LOG")" >&2
        kill -TERM "$SCRIPT_PID" # from a $(...) subshell too: the whole script stops
        exit "$code"
    fi
}

# setup.stack: the stack, its resources, the template they come from
call cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].StackStatus' >/dev/null
RESOURCES=$(call cloudformation list-stack-resources --stack-name "$STACK" \
    --query 'StackResourceSummaries[].[LogicalResourceId,PhysicalResourceId]')
call cloudformation get-template --stack-name "$STACK" --query 'TemplateBody' >/dev/null
physical() { awk -v id="$1" '$1 == id {print $2}' <<<"$RESOURCES"; }
BUCKET=$(physical FileUploadsBucket)
QUEUE_URL=$(physical S3NotificationQueue)
TABLE=$(physical ObjectMetadataTable)
FUNCTION=$(physical MetadataLambda)
ROLE=$(physical MetadataLambdaRole)
MAPPING=$(physical QueueLambdaSourceMapping)
ACCOUNT=$(cut -d/ -f4 <<<"$QUEUE_URL")
REGION=${AWS_DEFAULT_REGION:-us-east-1}
QUEUE_ARN="arn:aws:sqs:$REGION:$ACCOUNT:${QUEUE_URL##*/}"
TABLE_ARN="arn:aws:dynamodb:$REGION:$ACCOUNT:table/$TABLE"

# setup.pipeline: the newest upload has its item in the table
NEWEST=$(call s3api list-objects-v2 --bucket "$BUCKET" --query 'sort_by(Contents, &LastModified)[-1].Key')
call dynamodb get-item --table-name "$TABLE" --consistent-read \
    --key "{\"S3ObjectName\": {\"S\": \"${NEWEST//\"/\\\"}\"}}" >/dev/null

# lab1.inventory: every resource through its own service
call s3api head-bucket --bucket "$BUCKET" >/dev/null
call s3api get-bucket-notification-configuration --bucket "$BUCKET" >/dev/null
call sqs get-queue-attributes --queue-url "$QUEUE_URL" --attribute-names All >/dev/null
call lambda get-function --function-name "$FUNCTION" >/dev/null
call lambda get-event-source-mapping --uuid "$MAPPING" >/dev/null
call dynamodb describe-table --table-name "$TABLE" >/dev/null
call iam get-role --role-name "$ROLE" >/dev/null
call logs describe-log-groups --log-group-name-prefix "/aws/lambda/$FUNCTION" >/dev/null

# lab2: encryption, an encrypted upload, the log bucket, access logging, delivered logs
call s3api get-bucket-encryption --bucket "$BUCKET" >/dev/null
call s3api head-object --bucket "$BUCKET" --key "$NEWEST" --query ServerSideEncryption >/dev/null
LOG_BUCKET=$(call s3api get-bucket-logging --bucket "$BUCKET" --query 'LoggingEnabled.TargetBucket')
LOG_BUCKET=${LOG_BUCKET:-none}
call s3api head-bucket --bucket "$LOG_BUCKET" >/dev/null
call s3api get-public-access-block --bucket "$LOG_BUCKET" >/dev/null
call s3api get-bucket-encryption --bucket "$LOG_BUCKET" >/dev/null
call s3api get-bucket-policy --bucket "$LOG_BUCKET" >/dev/null
call s3api list-objects-v2 --bucket "$LOG_BUCKET" --max-items 1 >/dev/null

# lab3: trust policy, attached and inline policies, effective permissions, the AccessDenied demo
call iam get-role --role-name "$ROLE" --query 'Role.AssumeRolePolicyDocument' >/dev/null
call iam list-attached-role-policies --role-name "$ROLE" >/dev/null
for POLICY in $(call iam list-role-policies --role-name "$ROLE" --query 'PolicyNames[]'); do
    call iam get-role-policy --role-name "$ROLE" --policy-name "$POLICY" >/dev/null
done
ROLE_ARN="arn:aws:iam::$ACCOUNT:role/$ROLE"
call iam simulate-principal-policy --policy-source-arn "$ROLE_ARN" \
    --action-names iam:CreateUser iam:AttachRolePolicy iam:PassRole ec2:RunInstances s3:ListAllMyBuckets \
    kms:Decrypt secretsmanager:GetSecretValue >/dev/null
call iam simulate-principal-policy --policy-source-arn "$ROLE_ARN" \
    --action-names logs:CreateLogGroup logs:CreateLogStream logs:PutLogEvents \
    --resource-arns "arn:aws:logs:$REGION:$ACCOUNT:log-group:/aws/lambda/$FUNCTION:*" >/dev/null
call iam simulate-principal-policy --policy-source-arn "$ROLE_ARN" \
    --action-names dynamodb:PutItem dynamodb:GetItem dynamodb:Query dynamodb:Scan dynamodb:UpdateItem \
    dynamodb:DeleteItem dynamodb:BatchWriteItem dynamodb:DeleteTable dynamodb:CreateTable \
    --resource-arns "$TABLE_ARN" "$TABLE_ARN-other" >/dev/null
call iam simulate-principal-policy --policy-source-arn "$ROLE_ARN" \
    --action-names sqs:GetQueueAttributes sqs:ReceiveMessage sqs:DeleteMessage sqs:SendMessage \
    sqs:PurgeQueue sqs:DeleteQueue sqs:SetQueueAttributes \
    --resource-arns "$QUEUE_ARN" "$QUEUE_ARN-other" >/dev/null
call logs filter-log-events --log-group-name "/aws/lambda/$FUNCTION" \
    --filter-pattern AccessDeniedException >/dev/null
call s3api list-objects-v2 --bucket "$BUCKET" --query 'sort_by(Contents, &LastModified)[-1].Key' >/dev/null
call dynamodb get-item --table-name "$TABLE" --consistent-read \
    --key "{\"S3ObjectName\": {\"S\": \"${NEWEST//\"/\\\"}\"}}" >/dev/null

# lab4: recorder, delivery channel, rules, their verdicts, the buckets they judge
call configservice describe-configuration-recorders >/dev/null
call configservice describe-configuration-recorder-status >/dev/null
call configservice describe-delivery-channels >/dev/null
RULES=$(call configservice describe-config-rules --query 'ConfigRules[].ConfigRuleName')
call configservice describe-compliance-by-config-rule >/dev/null
for RULE in $RULES; do
    call configservice get-compliance-details-by-config-rule --config-rule-name "$RULE" >/dev/null
done
for OTHER in $(call s3api list-buckets --query 'Buckets[].Name'); do
    call s3api get-bucket-logging --bucket "$OTHER" >/dev/null
    call s3api get-bucket-encryption --bucket "$OTHER" >/dev/null
done

# extra: the template the stack runs now (the hardened one after the extra credit)
call cloudformation get-template --stack-name "$STACK" --query 'TemplateBody' >/dev/null

END=$(date +%s.%N)
echo "aws_cli_calls=$(wc -l <"$CALL_LOG") seconds=$(awk -v a="$START" -v b="$END" 'BEGIN {printf "%.3f", b - a}')"
