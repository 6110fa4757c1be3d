// people.js - naming who did something (users, API keys, import jobs).
import { t } from './i18n.js';

/** Who made an audited change, in words. */
export function actorName(e, userMap) {
  const id = e.actor_id || '';
  if (userMap.get(id)) return userMap.get(id).name;
  if (e.actor_type === 'api_key' || id.startsWith('key_')) return t('who.apikey');
  if (e.actor_type === 'import' || e.actor_type === 'job' || id.startsWith('job_')) return t('who.import');
  return id || t('who.system');
}
