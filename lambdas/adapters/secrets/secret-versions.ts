import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * The values of a secret's current and previous versions (`AWSCURRENT`, then `AWSPREVIOUS` when there is
 * one), read fresh on every call: for a value that is accepted from someone else (CloudFront's origin
 * header), which may still send the previous value for a while after the secret was changed.
 */
export async function currentAndPreviousValues(client: SecretsManagerClient, arn: string): Promise<string[]> {
  const read = async (VersionStage: string): Promise<string | undefined> => {
    try {
      return (await client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage }))).SecretString;
    } catch (e) {
      // A secret that was never changed has no previous version.
      if (VersionStage === 'AWSPREVIOUS' && (e as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
  const [current, previous] = await Promise.all([read('AWSCURRENT'), read('AWSPREVIOUS')]);
  if (!current) throw new Error(`secret ${arn} has no string value`);
  return previous && previous !== current ? [current, previous] : [current];
}
