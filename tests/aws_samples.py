"""API Gateway's documented Lambda-authorizer input samples, written out by hand.

From the Amazon API Gateway Developer Guide: "Input to an API Gateway Lambda authorizer"
(api-gateway-lambda-authorizer-input: the TOKEN format and its example, the REQUEST
example for `GET /request` with proxy integration) and "Control access to HTTP APIs with
AWS Lambda authorizers" (http-api-lambda-authorizer: payload format version 2.0). Values
are the documentation's, including its placeholders ("..."); each call returns a fresh
copy that a test may change.
"""

from __future__ import annotations

import copy
from typing import Any

TOKEN_EVENT: dict[str, Any] = {
    "type": "TOKEN",
    "authorizationToken": "allow",
    "methodArn": "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/",
}

REQUEST_EVENT: dict[str, Any] = {
    "type": "REQUEST",
    "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
    "resource": "/request",
    "path": "/request",
    "httpMethod": "GET",
    "headers": {
        "X-AMZ-Date": "20170718T062915Z",
        "Accept": "*/*",
        "HeaderAuth1": "headerValue1",
        "CloudFront-Viewer-Country": "US",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Tablet-Viewer": "false",
        "CloudFront-Is-Mobile-Viewer": "false",
        "User-Agent": "...",
    },
    "queryStringParameters": {"QueryString1": "queryValue1"},
    "pathParameters": {},
    "stageVariables": {"StageVar1": "stageValue1"},
    "requestContext": {
        "path": "/request",
        "accountId": "123456789012",
        "resourceId": "05c7jb",
        "stage": "test",
        "requestId": "...",
        "identity": {
            "apiKey": "...",
            "sourceIp": "...",
            "clientCert": {
                "clientCertPem": "CERT_CONTENT",
                "subjectDN": "www.example.com",
                "issuerDN": "Example issuer",
                "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
                "validity": {
                    "notBefore": "May 28 12:30:02 2019 GMT",
                    "notAfter": "Aug  5 09:36:04 2021 GMT",
                },
            },
        },
        "resourcePath": "/request",
        "httpMethod": "GET",
        "apiId": "abcdef123",
    },
}

HTTP_API_EVENT: dict[str, Any] = {
    "version": "2.0",
    "type": "REQUEST",
    "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
    "identitySource": ["user1", "123"],
    "routeKey": "$default",
    "rawPath": "/my/path",
    "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
    "cookies": ["cookie1", "cookie2"],
    "headers": {"header1": "value1", "header2": "value2"},
    "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "authentication": {
            "clientCert": {
                "clientCertPem": "CERT_CONTENT",
                "subjectDN": "www.example.com",
                "issuerDN": "Example issuer",
                "serialNumber": "1",
                "validity": {
                    "notBefore": "May 28 12:30:02 2019 GMT",
                    "notAfter": "Aug  5 09:36:04 2021 GMT",
                },
            }
        },
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "IP",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "pathParameters": {"parameter1": "value1"},
    "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"},
}


def token_event(credential: str | None, method_arn: str | None = None) -> dict[str, Any]:
    """The TOKEN sample carrying `credential` (None: without authorizationToken)."""
    event = copy.deepcopy(TOKEN_EVENT)
    if credential is None:
        del event["authorizationToken"]
    else:
        event["authorizationToken"] = credential
    if method_arn is not None:
        event["methodArn"] = method_arn
    return event


def request_event(authorization: str | None, method_arn: str | None = None) -> dict[str, Any]:
    """The REQUEST (payload 1.0) sample with an Authorization header (None: without)."""
    event = copy.deepcopy(REQUEST_EVENT)
    if authorization is not None:
        event["headers"]["Authorization"] = authorization
        event["multiValueHeaders"] = {"Authorization": [authorization]}
    if method_arn is not None:
        event["methodArn"] = method_arn
    return event


def http_api_event(authorization: str | None, route_arn: str | None = None) -> dict[str, Any]:
    """The payload 2.0 sample; its headers are lower-cased, as API Gateway sends them."""
    event = copy.deepcopy(HTTP_API_EVENT)
    if authorization is not None:
        event["headers"]["authorization"] = authorization
        event["identitySource"] = [authorization]
    else:
        event["identitySource"] = []
    if route_arn is not None:
        event["routeArn"] = route_arn
    return event
