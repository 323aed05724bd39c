import { loadProfiles, type Profile } from '../profiles/profile.js';
import { describeProfile } from '../profiles/describe.js';

/** Describes a session's profile: `#1 · http://bob:***@proxy:8000 · Mozilla/5.0…` (password hidden), or `-`. */
export type ProfileDescriber = (profileIndex: number | null) => string;

/**
 * A {@link ProfileDescriber}: with the crawler's profiles file (`--profiles`), the profile's proxy (password hidden)
 * and user agent; without it, only the index (profiles are not kept in the store).
 */
export async function profileDescriber(profilesPath: string | undefined): Promise<ProfileDescriber> {
    const profiles: readonly Profile[] | undefined = profilesPath === undefined ? undefined : await loadProfiles(profilesPath);
    return (index) => {
        if (index === null) return '-';
        if (!profiles) return `#${index}`;
        const profile = profiles[index];
        return profile ? `#${index} · ${describeProfile(profile)}` : `#${index} (not in ${profilesPath})`;
    };
}
