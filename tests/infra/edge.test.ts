import { runInNewContext } from 'node:vm';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { OriginRequestPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../infra/config.ts';
import { NOT_FOUND_PAGE_PATH, PAGE_PATH_FUNCTION_CODE, VIEWER_ADDRESS_FUNCTION_CODE } from '../../infra/constructs/edge.ts';
import { VIEWER_ADDRESS_HEADER } from '../../lambdas/http/client-address.ts';
import { ORIGIN_HEADER } from '../../lambdas/http/origin-guard.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

type Json = any; // CloudFormation JSON: assertions below check the shapes they rely on.

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const only = (template: Json, type: string): Json => {
  const found = Object.values<Json>(template.Resources).filter((r) => r.Type === type);
  expect(found, type).toHaveLength(1);
  return found[0];
};

describe('edge (production configuration, no WAF)', () => {
  let s: Synthesized;
  let data: Json;
  let service: Json;
  let config: Json;
  beforeAll(() => {
    s = synthesize(PRODUCTION_CONTEXT);
    data = Template.fromStack(s.data).toJSON();
    service = Template.fromStack(s.service).toJSON();
    config = only(service, 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
  });

  it('keeps the origin secret in Secrets Manager (data stack), generated and retained', () => {
    const secret = data.Resources[logicalId(s.data, s.data.originSecret)];
    expect(secret.Type).toBe('AWS::SecretsManager::Secret');
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.Properties.GenerateSecretString).toMatchObject({ ExcludePunctuation: true, PasswordLength: 48 });
    expect(secret.Properties.Description).toMatch(/origin header/);
  });

  it('has CloudFront send the secret to the API as a custom origin header, by dynamic reference (never the value)', () => {
    const apiOrigin = config.Origins.find((o: Json) => o.CustomOriginConfig);
    expect(apiOrigin.OriginCustomHeaders).toHaveLength(1);
    const [header] = apiOrigin.OriginCustomHeaders;
    expect(header.HeaderName).toBe(ORIGIN_HEADER);
    const value = JSON.stringify(header.HeaderValue);
    expect(value).toContain('{{resolve:secretsmanager:');
    expect(value).toContain(':SecretString:::}}');
    // The secret's ARN, exported by the data stack.
    expect(value).toMatch(/Fn::ImportValue.*OriginVerifySecret/);
    // The S3 origin gets no secret.
    expect(config.Origins.find((o: Json) => o.S3OriginConfig).OriginCustomHeaders).toBeUndefined();
  });

  it('gives the API function the secret\u2019s ARN and lets it read that secret', () => {
    const fn = service.Resources[logicalId(s.service, s.service.functions.api.fn)];
    expect(JSON.stringify(fn.Properties.Environment.Variables.ORIGIN_SECRET_ARN)).toMatch(/Fn::ImportValue.*OriginVerifySecret/);
    const statements = Object.values<Json>(service.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === logicalId(s.service, s.service.functions.api.role)))
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
    expect(statements.some((st: Json) => st.Action === 'secretsmanager:GetSecretValue' && /OriginVerifySecret/.test(JSON.stringify(st.Resource)))).toBe(true);
    // No other function gets it.
    for (const [name, f] of Object.entries(s.service.functions)) {
      if (name === 'api') continue;
      expect(service.Resources[logicalId(s.service, f.fn)].Properties.Environment?.Variables?.ORIGIN_SECRET_ARN, name).toBeUndefined();
    }
  });

  it('forwards every viewer header but Host to the API, with the viewer address written at the edge on every API behaviour', () => {
    const fnId = logicalId(s.service, s.service.edge.viewerAddressFunction);
    const fn = service.Resources[fnId];
    expect(fn.Type).toBe('AWS::CloudFront::Function');
    expect(fn.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.Properties.FunctionCode).toBe(VIEWER_ADDRESS_FUNCTION_CODE);
    for (const behavior of config.CacheBehaviors) {
      expect(behavior.OriginRequestPolicyId, behavior.PathPattern).toBe(OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId);
      expect(behavior.FunctionAssociations, behavior.PathPattern).toEqual([
        { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } },
      ]);
    }
    // Documents get the page-path function instead.
    const pageFnId = logicalId(s.service, s.service.edge.pagePathFunction);
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [pageFnId, 'FunctionARN'] } },
    ]);
  });

  it('serves the site: `/` is the home page, a page address its index.html, a missing document the 404 page', () => {
    const fn = service.Resources[logicalId(s.service, s.service.edge.pagePathFunction)];
    expect(fn.Type).toBe('AWS::CloudFront::Function');
    expect(fn.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.Properties.FunctionCode).toBe(PAGE_PATH_FUNCTION_CODE);
    expect(config.DefaultRootObject).toBe('index.html');
    // Only S3's 403 (a missing key, since CloudFront may not list): the API's JSON 404s pass through.
    expect(config.CustomErrorResponses).toEqual([{ ErrorCode: 403, ResponseCode: 404, ResponsePagePath: NOT_FOUND_PAGE_PATH, ErrorCachingMinTTL: 60 }]);
  });

  it('the page-path function maps folders to index.html, redirects a folder asked without its slash, and leaves documents alone', () => {
    type Out = { uri?: string; statusCode?: number; headers?: Record<string, { value: string }> };
    const run = (uri: string, querystring: Record<string, unknown> = {}) =>
      runInNewContext(`${PAGE_PATH_FUNCTION_CODE}; handler(event)`, { event: { request: { uri, querystring, headers: {} } } }) as Out;
    expect(run('/').uri).toBe('/index.html');
    expect(run('/articles/hello/').uri).toBe('/articles/hello/index.html');
    expect(run('/tags/politics/page/2024-02/').uri).toBe('/tags/politics/page/2024-02/index.html');
    expect(run('/feed.xml').uri).toBe('/feed.xml');
    expect(run('/tags/politics/atom.xml').uri).toBe('/tags/politics/atom.xml');
    expect(run('/sitemap.xml').uri).toBe('/sitemap.xml');
    expect(run('/articles/hello')).toMatchObject({ statusCode: 301, headers: { location: { value: '/articles/hello/' } } });
    expect(run('/articles/hello', { a: { value: '1' }, b: { value: '', multiValue: [{ value: '' }, { value: 'x' }] } }).headers!.location!.value).toBe(
      '/articles/hello/?a=1&b&b=x',
    );
  });

  it('the edge function writes the viewer\u2019s IP over whatever the viewer sent under that name', () => {
    const run = (ip: string, headers: Record<string, { value: string }>) =>
      runInNewContext(`${VIEWER_ADDRESS_FUNCTION_CODE}; handler(event)`, { event: { viewer: { ip }, request: { uri: '/subscribe', headers } } }) as {
        headers: Record<string, { value: string }>;
      };
    expect(run('2001:db8::1', {}).headers[VIEWER_ADDRESS_HEADER]).toEqual({ value: '2001:db8::1' });
    const out = run('203.0.113.7', { [VIEWER_ADDRESS_HEADER]: { value: '192.0.2.1' }, accept: { value: '*/*' } });
    expect(out.headers[VIEWER_ADDRESS_HEADER]).toEqual({ value: '203.0.113.7' });
    expect(out.headers.accept).toEqual({ value: '*/*' });
  });

  it('grants read access to the feed bucket to this distribution alone, only objects, only over TLS 1.2+', () => {
    const policy = service.Resources[s.service.getLogicalId(s.service.edge.feedBucketPolicy.node.defaultChild as CfnElement)];
    expect(policy.Type).toBe('AWS::S3::BucketPolicy');
    expect(JSON.stringify(policy.Properties.Bucket)).toMatch(/Fn::ImportValue.*FeedBucket/);
    const statements: Json[] = policy.Properties.PolicyDocument.Statement;
    const read = statements.find((st) => st.Effect === 'Allow');
    expect(read).toMatchObject({ Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject' });
    expect(read.Condition).toEqual({
      StringEquals: {
        'AWS:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudfront::',
              { Ref: 'AWS::AccountId' },
              ':distribution/',
              { Ref: logicalId(s.service, s.service.edge.distribution) },
            ],
          ],
        },
      },
    });
    expect(statements.filter((st) => st.Effect === 'Allow')).toHaveLength(1);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]),
    );
  });

  it('never lists the bucket: no s3:ListBucket for CloudFront, no policy on the feed bucket left in the data stack', () => {
    for (const template of [data, service]) {
      for (const policy of Object.values<Json>(template.Resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy')) {
        expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('s3:ListBucket');
        expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('distribution/*');
      }
    }
    const feedBucketId = logicalId(s.data, s.data.feedBucket);
    expect(Object.values<Json>(data.Resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket?.Ref === feedBucketId)).toEqual([]);
    // `/` is the home page's object, never the bucket root: no listing even without a home page.
    expect(config.DefaultRootObject).toBe('index.html');
  });

  it('creates no WAF web ACL by default', () => {
    expect(Object.values<Json>(service.Resources).filter((r) => r.Type === 'AWS::WAFv2::WebACL')).toEqual([]);
    expect(config.WebACLId).toBeUndefined();
    expect(service.Rules?.WafRegionGuard).toBeUndefined();
  });
});

describe('edge with wafRateLimit', () => {
  it('in us-east-1: a CLOUDFRONT web ACL that blocks, with 429, an address over the limit on /subscribe paths, attached to the distribution', () => {
    const s = synthesize({ ...PRODUCTION_CONTEXT, wafRateLimit: '300', region: 'us-east-1' });
    const service = Template.fromStack(s.service).toJSON();
    const acl = only(service, 'AWS::WAFv2::WebACL');
    expect(acl.Properties).toMatchObject({ Scope: 'CLOUDFRONT', DefaultAction: { Allow: {} } });
    expect(acl.Properties.Rules).toHaveLength(1);
    const [rule] = acl.Properties.Rules;
    expect(rule.Action.Block.CustomResponse).toMatchObject({ ResponseCode: 429, CustomResponseBodyKey: 'rateLimited' });
    expect(JSON.parse(acl.Properties.CustomResponseBodies.rateLimited.Content).error.code).toBe('request.rateLimited');
    expect(rule.Statement.RateBasedStatement).toEqual({
      Limit: 300,
      EvaluationWindowSec: 300,
      AggregateKeyType: 'IP',
      ScopeDownStatement: {
        ByteMatchStatement: {
          FieldToMatch: { UriPath: {} },
          PositionalConstraint: 'STARTS_WITH',
          SearchString: '/subscribe',
          TextTransformations: [{ Priority: 0, Type: 'NONE' }],
        },
      },
    });
    const distribution = only(service, 'AWS::CloudFront::Distribution');
    expect(distribution.Properties.DistributionConfig.WebACLId).toEqual({ 'Fn::GetAtt': [s.service.getLogicalId(s.service.edge.webAcl!), 'Arn'] });
    expect(service.Rules?.WafRegionGuard).toBeUndefined();
  });

  it('with the region unknown until deploy: a CloudFormation rule fails the deployment outside us-east-1', () => {
    const s = synthesize({ ...PRODUCTION_CONTEXT, wafRateLimit: '300' });
    const rule = Template.fromStack(s.service).toJSON().Rules.WafRegionGuard;
    expect(rule.Assertions).toEqual([
      { Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }, AssertDescription: expect.stringContaining('"region": "us-east-1"') },
    ]);
  });

  it('is refused, saying why, when the stacks are pinned to another region, and when it is not a sane rate', () => {
    const problems = (context: Record<string, string>) => {
      try {
        parseConfig(context);
      } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
      }
      return [];
    };
    const [problem] = problems({ ...PRODUCTION_CONTEXT, wafRateLimit: '300', region: 'eu-west-1' });
    expect(problem).toMatch(/^context `wafRateLimit` needs the stacks in us-east-1.*`region` is eu-west-1.*\(got "300"\)/);
    expect(problems({ ...PRODUCTION_CONTEXT, wafRateLimit: '5' })[0]).toMatch(/wafRateLimit` must be at least 10 .*\(got "5"\)/);
    expect(problems({ ...PRODUCTION_CONTEXT, wafRateLimit: 'lots' })[0]).toMatch(/wafRateLimit` must be a number/);
    expect(parseConfig({ ...PRODUCTION_CONTEXT }).wafRateLimit).toBeUndefined();
  });
});
