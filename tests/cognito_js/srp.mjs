// Cognito SRP sign-in against authgate with the AWS SDK for JavaScript v3 and the SRP
// helper of amazon-cognito-identity-js (the code Amplify's SRP descends from).
// Reads COGNITO_JS_CONFIG = {"endpoint", "client_id", "pool_id", "username", "password",
// "wrong_password"}; prints one JSON summary; exits non-zero on any failure. The client
// only ever talks to `endpoint` (loopback), with dummy credentials.
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import {
  CognitoIdentityProviderClient,
  GetUserCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
} from "@aws-sdk/client-cognito-identity-provider";

const require = createRequire(import.meta.url);
const AuthenticationHelper = require("amazon-cognito-identity-js/lib/AuthenticationHelper.js").default;
const BigInteger = require("amazon-cognito-identity-js/lib/BigInteger.js").default;
const DateHelper = require("amazon-cognito-identity-js/lib/DateHelper.js").default;

const config = JSON.parse(process.env.COGNITO_JS_CONFIG);
const endpoint = new URL(config.endpoint);
if (!["127.0.0.1", "localhost", "[::1]"].includes(endpoint.hostname)) {
  throw new Error(`refusing a non-loopback endpoint: ${config.endpoint}`);
}
const poolName = config.pool_id.split("_")[1];
const client = new CognitoIdentityProviderClient({
  region: "us-east-1",
  endpoint: config.endpoint,
  credentials: { accessKeyId: "AKIDUMMYDUMMYDUMMY00", secretAccessKey: "dummy" },
  maxAttempts: 1,
});

function largeA(helper) {
  return new Promise((resolve, reject) =>
    helper.getLargeAValue((err, value) => (err ? reject(err) : resolve(value))),
  );
}

function passwordKey(helper, userId, password, params) {
  return new Promise((resolve, reject) =>
    helper.getPasswordAuthenticationKey(
      userId,
      password,
      new BigInteger(params.SRP_B, 16),
      new BigInteger(params.SALT, 16),
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

async function srpSignIn(username, password) {
  const helper = new AuthenticationHelper(poolName);
  const A = await largeA(helper);
  const started = await client.send(
    new InitiateAuthCommand({
      ClientId: config.client_id,
      AuthFlow: "USER_SRP_AUTH",
      AuthParameters: { USERNAME: username, SRP_A: A.toString(16) },
    }),
  );
  if (started.ChallengeName !== "PASSWORD_VERIFIER") {
    throw new Error(`expected PASSWORD_VERIFIER, got ${started.ChallengeName}`);
  }
  const params = started.ChallengeParameters;
  const userId = params.USER_ID_FOR_SRP;
  const key = await passwordKey(helper, userId, password, params);
  const timestamp = new DateHelper().getNowString();
  const signature = createHmac("sha256", key)
    .update(
      Buffer.concat([
        Buffer.from(poolName, "utf8"),
        Buffer.from(userId, "utf8"),
        Buffer.from(params.SECRET_BLOCK, "base64"),
        Buffer.from(timestamp, "utf8"),
      ]),
    )
    .digest("base64");
  return client.send(
    new RespondToAuthChallengeCommand({
      ClientId: config.client_id,
      ChallengeName: "PASSWORD_VERIFIER",
      ChallengeResponses: {
        USERNAME: userId,
        PASSWORD_CLAIM_SECRET_BLOCK: params.SECRET_BLOCK,
        PASSWORD_CLAIM_SIGNATURE: signature,
        TIMESTAMP: timestamp,
      },
    }),
  );
}

const summary = {};
const signedIn = await srpSignIn(config.username, config.password);
const result = signedIn.AuthenticationResult;
summary.token_type = result.TokenType;
summary.has_refresh_token = Boolean(result.RefreshToken);
const me = await client.send(new GetUserCommand({ AccessToken: result.AccessToken }));
summary.username = me.Username;
try {
  await srpSignIn(config.username, config.wrong_password);
  summary.wrong_password = "accepted";
} catch (error) {
  summary.wrong_password = error.name;
  summary.wrong_password_message = error.message;
}
console.log(JSON.stringify(summary));
