// A fake Spotify on 127.0.0.1 port 0 for the isolation test: its authorization server (what
// `concierge auth login spotify` signs in with: /authorize redirects straight back with a code,
// /token hands out a distinct access token per sign-in) and the one API call music_now_playing
// makes (/v1/me/player), which records the bearer token every request carried.
import { createServer } from 'node:http';

export const SONG = 'Upstream Song';

function player() {
    return {
        device: { id: 'dev1', name: 'Kitchen', type: 'Speaker', is_active: true, volume_percent: 40 },
        is_playing: true,
        progress_ms: 1000,
        shuffle_state: false,
        repeat_state: 'off',
        context: null,
        currently_playing_type: 'track',
        item: {
            type: 'track',
            uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC',
            name: SONG,
            duration_ms: 200000,
            track_number: 3,
            artists: [{ name: 'The Fakes', uri: 'spotify:artist:1' }],
            album: { name: 'Loopback', uri: 'spotify:album:2' }
        }
    };
}

export async function startFakeSpotify() {
    const seen = []; // { path, authorization } of every API request
    const issued = []; // access tokens handed out, in order
    let n = 0;
    const server = createServer(async (req, res) => {
        const url = new URL(req.url, 'http://127.0.0.1');
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const json = (status, body) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
        };
        if (url.pathname === '/authorize') {
            const back = new URL(url.searchParams.get('redirect_uri'));
            back.searchParams.set('code', `code-${++n}`);
            back.searchParams.set('state', url.searchParams.get('state') ?? '');
            res.writeHead(302, { location: back.href }).end();
        } else if (url.pathname === '/token' && req.method === 'POST') {
            const access = `upstream-access-${++n}-${Math.random().toString(36).slice(2)}`;
            issued.push(access);
            json(200, { access_token: access, refresh_token: `upstream-refresh-${n}`, expires_in: 3600, token_type: 'Bearer', scope: 'user-read-playback-state' });
        } else if (url.pathname.startsWith('/v1/')) {
            seen.push({ path: url.pathname, authorization: req.headers.authorization ?? '' });
            if (url.pathname === '/v1/me/player') json(200, player());
            else if (url.pathname === '/v1/me/player/devices') json(200, { devices: [player().device] });
            else json(404, { error: { status: 404, message: 'not faked' } });
        } else {
            json(404, { error: 'not faked' });
        }
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${server.address().port}`;
    return {
        origin,
        seen,
        issued,
        // What `auth login spotify` and `serve` need to reach it instead of Spotify.
        env: {
            CONCIERGE_SPOTIFY_CLIENT_ID: 'concierge-e2e',
            CONCIERGE_SPOTIFY_AUTHORIZE_URL: `${origin}/authorize`,
            CONCIERGE_SPOTIFY_TOKEN_URL: `${origin}/token`,
            CONCIERGE_SPOTIFY_BASE_URL: `${origin}/v1`
        },
        close: () =>
            new Promise(resolve => {
                server.closeAllConnections?.();
                server.close(() => resolve());
            })
    };
}
