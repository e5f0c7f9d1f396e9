import { Aws, CfnRule, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachedMethods,
  CachePolicy,
  CacheCookieBehavior,
  CacheHeaderBehavior,
  CacheQueryStringBehavior,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  SecurityPolicyProtocol,
  SSLMethod,
  ViewerProtocolPolicy,
  type BehaviorOptions,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket, BucketPolicy, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { VIEWER_ADDRESS_HEADER } from '../../lambdas/http/client-address.ts';
import { ORIGIN_HEADER } from '../../lambdas/http/origin-guard.ts';
import { WAF_REGION } from '../config.ts';

/**
 * Paths CloudFront sends to the API; everything else is a document in the feed bucket. The console
 * (`/admin`, `/admin/...`) is served by the API: its pages need the session cookie, which the API
 * behaviour forwards and never caches.
 */
export const API_PATH_PATTERNS = ['/api/*', '/subscribe*', '/confirm*', '/preferences*', '/unsubscribe*', '/health', '/admin', '/admin/*'] as const;

/** Feeds and pages change when an article is published; readers should see that within a minute. */
export const FEED_CACHE_TTL = Duration.seconds(60);

/** The paths the optional WAF rate-based rule counts (`wafRateLimit`): the subscribe form and its JSON twin. */
export const WAF_RATE_LIMITED_PATH_PREFIX = '/subscribe';

/**
 * The CloudFront Function on the API behaviours (viewer request): writes the viewer's IP address, as
 * CloudFront saw the connection, into {@link VIEWER_ADDRESS_HEADER}, replacing whatever the viewer sent
 * under that name. The app counts subscribe limits by it (only on requests that carry the origin secret).
 *
 * Why a function and not CloudFront's own `CloudFront-Viewer-Address` header: an origin request policy
 * can add CloudFront headers only with the `allViewerAndWhitelistCloudFront` header behaviour, which also
 * forwards the viewer's Host header, and the execute-api endpoint refuses a Host that is not its own;
 * `allExcept` (all viewer headers but Host) takes no CloudFront headers, and an allow list cannot carry
 * `Authorization` (the publisher API key). So the API behaviours keep "all viewer headers except Host",
 * which forwards this header. The app still reads `CloudFront-Viewer-Address` (ip:port) when it comes
 * without this one.
 */
export const VIEWER_ADDRESS_FUNCTION_CODE = `function handler(event) {
  var request = event.request;
  request.headers['${VIEWER_ADDRESS_HEADER}'] = { value: event.viewer.ip };
  return request;
}`;

/**
 * The CloudFront Function on the documents behaviour (viewer request): a page's address is its folder
 * (`/articles/x/`), stored as `/articles/x/index.html`, so a path ending in `/` gets `index.html`; a path
 * whose last segment has no dot (`/articles/x`) is redirected to its folder, as a static web server would.
 * Everything else (feeds, sitemaps, robots.txt) passes unchanged. S3 itself cannot do this: the bucket is
 * reached through its REST endpoint (origin access control), which has no index documents.
 */
export const PAGE_PATH_FUNCTION_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.charAt(uri.length - 1) === '/') {
    request.uri = uri + 'index.html';
    return request;
  }
  if (uri.substring(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
    var query = [];
    for (var name in request.querystring) {
      var q = request.querystring[name];
      var values = q.multiValue ? q.multiValue : [q];
      for (var i = 0; i < values.length; i++) query.push(name + (values[i].value === '' ? '' : '=' + values[i].value));
    }
    return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: uri + '/' + (query.length ? '?' + query.join('&') : '') } } };
  }
  return request;
}`;

/** The page S3's "no such key" (a 403: CloudFront may not list the bucket) is answered with, as a 404. */
export const NOT_FOUND_PAGE_PATH = '/404.html';

export interface EdgeProps {
  apiFunction: IFunction;
  feedBucket: IBucket;
  logBucket: IBucket;
  domain: string;
  /** ACM certificate in us-east-1 for `domain`; without it the distribution answers on its cloudfront.net name only. */
  certificateArn?: string | undefined;
  /** Sent by CloudFront to the API in the origin header {@link ORIGIN_HEADER}; the API refuses requests without it. */
  originSecret: ISecret;
  /**
   * With a value, an AWS WAF web ACL on the distribution blocks an IP address that sent more than this
   * many requests to `/subscribe...` in 5 minutes. Needs the stack in us-east-1.
   */
  wafRateLimit?: number | undefined;
}

/**
 * The public face: one CloudFront distribution in front of the feed bucket (feeds, the site's pages and
 * the newsletter archive, cached briefly and revalidated) and of the HTTP API (subscriptions, and the publisher API, never cached).
 */
export class Edge extends Construct {
  readonly httpApi: HttpApi;
  readonly distribution: Distribution;
  /** The feed bucket's policy: TLS only, and read access for this distribution alone. */
  readonly feedBucketPolicy: BucketPolicy;
  readonly viewerAddressFunction: EdgeFunction;
  /** Maps page addresses to their stored documents (`/x/` to `/x/index.html`). */
  readonly pagePathFunction: EdgeFunction;
  /** Only with `wafRateLimit`. */
  readonly webAcl: CfnWebACL | undefined;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: `Inkwire API for ${props.domain} (reached through CloudFront)`,
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Api', props.apiFunction),
    });
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // A ceiling against floods of subscribe requests; the app limits per network, per email address and
      // site-wide itself (SUBSCRIBE_LIMITS), and wafRateLimit can add AWS WAF in front.
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.path',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            bytes: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'The API serves public subscription routes by design; the app itself authorizes every request that needs it: the publisher API by its API key, and confirm/preferences/unsubscribe by HMAC-signed tokens.',
    });

    // Imported by attributes so that the origin does not try to edit the bucket policy of another stack
    // (which would make the data stack depend on this one); the data stack grants CloudFront read access.
    const feedBucket = Bucket.fromBucketAttributes(this, 'FeedBucketRef', {
      bucketArn: props.feedBucket.bucketArn,
      bucketName: props.feedBucket.bucketName,
      bucketRegionalDomainName: props.feedBucket.bucketRegionalDomainName,
    });
    const feedOrigin = S3BucketOrigin.withOriginAccessControl(feedBucket, {
      originAccessControl: new S3OriginAccessControl(this, 'FeedOriginAccessControl', {
        description: 'Inkwire: CloudFront signs requests to the feed bucket',
      }),
    });

    // CloudFront revalidates an expired object with If-None-Match / If-Modified-Since against the
    // object's ETag and Last-Modified, and answers viewers' conditional requests with 304 itself, so
    // feed readers polling every few minutes cost a header exchange, not a download.
    const feedCachePolicy = new CachePolicy(this, 'FeedCachePolicy', {
      comment: 'Inkwire feeds and archive pages: one minute by default, at most five when the object says so',
      defaultTtl: FEED_CACHE_TTL,
      minTtl: Duration.seconds(0),
      maxTtl: Duration.minutes(5),
      headerBehavior: CacheHeaderBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      cookieBehavior: CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const securityHeaders = {
      contentTypeOptions: { override: true },
      strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: false, override: true },
      referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: false },
    };
    // Feeds are public documents that web-based readers fetch from other origins. Content types are set
    // on each object by the feed rebuilder, so CloudFront passes them through untouched.
    const feedHeaders = new ResponseHeadersPolicy(this, 'FeedHeaders', {
      comment: 'Inkwire feeds: readable cross-origin, with security headers',
      corsBehavior: {
        accessControlAllowCredentials: false,
        accessControlAllowHeaders: ['*'],
        accessControlAllowMethods: ['GET', 'HEAD'],
        accessControlAllowOrigins: ['*'],
        accessControlExposeHeaders: ['ETag', 'Last-Modified'],
        originOverride: false,
      },
      securityHeadersBehavior: securityHeaders,
    });
    const apiHeaders = new ResponseHeadersPolicy(this, 'ApiHeaders', {
      comment: 'Inkwire API and pages: security headers, everything else from the app',
      securityHeadersBehavior: securityHeaders,
    });

    // The origin secret rides on every request CloudFront sends to the API (CloudFront replaces a viewer's
    // header of the same name). CloudFormation needs the value when it writes the distribution:
    // `unsafeUnwrap()` of a Secrets Manager secret is not the value but a dynamic reference
    // ({{resolve:secretsmanager:...}}), which CloudFormation resolves at deploy time, so the value is in
    // neither the template nor cdk.out. The trade-offs: the resolved value is stored in the distribution's
    // configuration (readable with cloudfront:GetDistributionConfig, as any custom origin header is), and
    // CloudFormation resolves it again only when it updates the distribution, so a new secret value reaches
    // CloudFront with the next deploy that changes the distribution, not by itself (the API accepts the
    // previous value meanwhile; see the deploy guide). The alternative, disabling the execute-api endpoint,
    // would leave CloudFront nothing to reach without a custom domain on the API.
    const apiOrigin = new HttpOrigin(`${this.httpApi.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_HEADER]: props.originSecret.secretValue.unsafeUnwrap() },
    });
    this.viewerAddressFunction = new EdgeFunction(this, 'ViewerAddress', {
      comment: `Inkwire: the viewer's IP address in ${VIEWER_ADDRESS_HEADER}, for the API's subscribe limits`,
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(VIEWER_ADDRESS_FUNCTION_CODE),
    });
    this.pagePathFunction = new EdgeFunction(this, 'PagePath', {
      comment: 'Inkwire: a page address /x/ is the document /x/index.html; /x is redirected to /x/',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(PAGE_PATH_FUNCTION_CODE),
    });
    // HTTPS only, no redirect: an API key or a form post sent over plain HTTP must fail, not be replayed.
    const apiBehavior: BehaviorOptions = {
      origin: apiOrigin,
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      // Every viewer header but Host (execute-api wants its own), so Authorization, Content-Type, CORS and
      // the viewer-address function's header reach the app. See VIEWER_ADDRESS_FUNCTION_CODE for why no
      // custom policy adding CloudFront-Viewer-Address.
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: apiHeaders,
      functionAssociations: [{ function: this.viewerAddressFunction, eventType: FunctionEventType.VIEWER_REQUEST }],
      compress: true,
    };

    this.webAcl = props.wafRateLimit === undefined ? undefined : this.subscribeRateLimit(props.wafRateLimit);

    const certificate = props.certificateArn ? Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn) : undefined;
    this.distribution = new Distribution(this, 'Distribution', {
      comment: `Inkwire ${props.domain}`,
      ...(certificate
        ? { domainNames: [props.domain], certificate, minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021, sslSupportMethod: SSLMethod.SNI }
        : {}),
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableIpv6: true,
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: 'cloudfront/',
      ...(this.webAcl ? { webAclId: this.webAcl.attrArn } : {}),
      // `/` is the site's home page. CloudFront may only read objects (no s3:ListBucket), so `/` can never
      // be a listing of the bucket: without a home page (pages off) it is a missing key like any other.
      defaultRootObject: 'index.html',
      // A missing key is a 403 from S3 (no s3:ListBucket): the reader gets the site's 404 page, with 404.
      // This applies to the API behaviours too, whose only 403 (`origin.forbidden`) is never seen through
      // CloudFront, which always adds the origin secret; the API's 404s stay JSON (only 403 is mapped).
      errorResponses: [{ httpStatus: 403, responseHttpStatus: 404, responsePagePath: NOT_FOUND_PAGE_PATH, ttl: FEED_CACHE_TTL }],
      defaultBehavior: {
        origin: feedOrigin,
        // Feed readers configured with http:// URLs are redirected rather than refused.
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        cachePolicy: feedCachePolicy,
        responseHeadersPolicy: feedHeaders,
        functionAssociations: [{ function: this.pagePathFunction, eventType: FunctionEventType.VIEWER_REQUEST }],
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, apiBehavior])),
    });

    // The feed bucket's one policy, here and not in the data stack, because it names this distribution.
    // Read only (s3:GetObject): without s3:ListBucket S3 answers a missing key with 403, which the feed
    // rebuilder already treats as absent, and `/` is no bucket listing.
    this.feedBucketPolicy = new BucketPolicy(this, 'FeedBucketPolicy', { bucket: feedBucket });
    const everywhere = [feedBucket.bucketArn, feedBucket.arnForObjects('*')];
    this.feedBucketPolicy.document.addStatements(
      new PolicyStatement({
        sid: 'DenyInsecureTransport',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:*'],
        resources: everywhere,
        conditions: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
      new PolicyStatement({
        sid: 'DenyOutdatedTLS',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:*'],
        resources: everywhere,
        conditions: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      }),
      new PolicyStatement({
        sid: 'AllowThisDistributionToRead',
        principals: [new ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [feedBucket.arnForObjects('*')],
        conditions: { StringEquals: { 'AWS:SourceArn': this.distribution.distributionArn } },
      }),
    );

    Validations.of(this.distribution).acknowledge({
      id: 'Annotation::@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac',
      reason:
        'Intended: the feed bucket is imported (it lives in the data stack), and this construct writes its policy itself (FeedBucketPolicy), granting read access to this distribution alone.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Feeds and newsletters are published to readers worldwide; there is no country to exclude.',
    });
    if (!this.webAcl) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason:
          'No WAF web ACL unless wafRateLimit is set: it would add at least $6 a month plus $0.60 per million requests to a service that costs a few dollars; subscribe floods are bounded by API Gateway stage throttling and the app\u2019s own limits (per network, per address, site-wide), and everything else is cached static documents.',
      });
    }
    if (!certificate) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'No certificateArn configured yet, so the distribution uses the default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; pass -c certificateArn=... (us-east-1) to serve the domain with TLSv1.2_2021.',
      });
    }
  }
  /**
   * A WAF web ACL (scope CLOUDFRONT) whose one rule blocks, with 429, an IP address that sent more than
   * `limit` requests to paths starting with `/subscribe` in the last 5 minutes; everything else passes.
   * CloudFront web ACLs exist only in us-east-1: a stack pinned to another region is refused here, and one
   * whose region is known only at deploy time carries a rule that fails the deployment elsewhere.
   */
  private subscribeRateLimit(limit: number): CfnWebACL {
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== WAF_REGION) {
      throw new Error(`wafRateLimit needs the stacks in ${WAF_REGION} (CloudFront's web ACLs are created there), but this stack is in ${region}`);
    }
    if (Token.isUnresolved(region)) {
      new CfnRule(Stack.of(this), 'WafRegionGuard', {
        assertions: [
          {
            assert: Fn.conditionEquals(Aws.REGION, WAF_REGION),
            assertDescription: `wafRateLimit is set, and a CloudFront web ACL can only be created in ${WAF_REGION}: deploy the stacks there (record "region": "${WAF_REGION}" in cdk.json's context), or remove wafRateLimit from cdk.json.`,
          },
        ],
      });
    }
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    return new CfnWebACL(this, 'WebAcl', {
      description: `Inkwire: at most ${limit} requests per 5 minutes from one IP address to ${WAF_RATE_LIMITED_PATH_PREFIX}...`,
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('InkwireEdge'),
      customResponseBodies: {
        rateLimited: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({ error: { code: 'request.rateLimited', message: 'too many requests from your address; try again in 5 minutes' } }),
        },
      },
      rules: [
        {
          name: 'SubscribeRatePerAddress',
          priority: 0,
          action: {
            block: { customResponse: { responseCode: 429, customResponseBodyKey: 'rateLimited', responseHeaders: [{ name: 'Retry-After', value: '300' }] } },
          },
          statement: {
            rateBasedStatement: {
              limit,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
              scopeDownStatement: {
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'STARTS_WITH',
                  searchString: WAF_RATE_LIMITED_PATH_PREFIX,
                  textTransformations: [{ priority: 0, type: 'NONE' }],
                },
              },
            },
          },
          visibilityConfig: visibility('InkwireSubscribeRate'),
        },
      ],
    });
  }
}
