import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
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
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Paths CloudFront sends to the API; everything else is a document in the feed bucket. */
export const API_PATH_PATTERNS = ['/api/*', '/subscribe*', '/confirm*', '/preferences*', '/unsubscribe*', '/health'] as const;

/** Feeds change when an article is published; readers should see that within a minute. */
export const FEED_CACHE_TTL = Duration.seconds(60);

export interface EdgeProps {
  apiFunction: IFunction;
  feedBucket: IBucket;
  logBucket: IBucket;
  domain: string;
  /** ACM certificate in us-east-1 for `domain`; without it the distribution answers on its cloudfront.net name only. */
  certificateArn?: string | undefined;
}

/**
 * The public face: one CloudFront distribution in front of the feed bucket (feeds and archive pages,
 * cached briefly) and of the HTTP API (subscriptions, and the publisher API, never cached).
 */
export class Edge extends Construct {
  readonly httpApi: HttpApi;
  readonly distribution: Distribution;

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
      // A ceiling against floods of subscribe requests; the app limits per address and per client itself.
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
      reason: 'The API serves public subscription routes by design; the app itself authorizes every request that needs it: the publisher API by its API key, and confirm/preferences/unsubscribe by HMAC-signed tokens.',
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

    const apiOrigin = new HttpOrigin(`${this.httpApi.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
    });
    // HTTPS only, no redirect: an API key or a form post sent over plain HTTP must fail, not be replayed.
    const apiBehavior: BehaviorOptions = {
      origin: apiOrigin,
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: apiHeaders,
      compress: true,
    };

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
      defaultBehavior: {
        origin: feedOrigin,
        // Feed readers configured with http:// URLs are redirected rather than refused.
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        cachePolicy: feedCachePolicy,
        responseHeadersPolicy: feedHeaders,
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, apiBehavior])),
    });

    Validations.of(this.distribution).acknowledge({
      id: 'Annotation::@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac',
      reason: 'Intended: the data stack\u2019s bucket policy grants CloudFront (this account\u2019s distributions) read access.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Feeds and newsletters are published to readers worldwide; there is no country to exclude.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason: 'No WAF web ACL: it would add at least $5 a month plus per-request charges to a service that costs a few dollars; subscribe floods are bounded by API Gateway stage throttling and the app\u2019s per-address limits, and everything else is cached static documents.',
    });
    if (!certificate) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason: 'No certificateArn configured yet, so the distribution uses the default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; pass -c certificateArn=... (us-east-1) to serve the domain with TLSv1.2_2021.',
      });
    }
  }
}
