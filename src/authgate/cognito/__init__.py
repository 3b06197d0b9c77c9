"""Cognito's wire protocol (AWS JSON 1.1, `X-Amz-Target`) over authgate's own user pool.

An adapter like `api/`: it reads Cognito's request shapes, calls the same domain code as
`/v1` (identity, tokens, clients) and answers in Cognito's shapes and error names, so that
boto3 `cognito-idp`, the AWS SDK for JavaScript and Amplify work by changing one endpoint
URL. It holds no rule of its own. The operation table is `operations.OPERATIONS`.
"""
