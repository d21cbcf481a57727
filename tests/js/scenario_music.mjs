#!/usr/bin/env node
// Music scenarios through the official TS SDK client against `concierge serve --demo`: find an
// album, play it, skip, read what is playing, queue a track and hear it next; playlists.
import assert from 'node:assert/strict';
import { binaryArg, checker, connectDemo } from './demo_server.mjs';

const binary = binaryArg('scenario_music.mjs');
const { check, done } = checker();
const { call, callError, close } = await connectDemo(binary);

let album;
await check('search finds the album, its artist and its tracks', async () => {
    const r = await call('music_search', { query: 'harbour' });
    assert.equal(r.albums.length, 1);
    album = r.albums[0];
    assert.equal(album.artist, 'The Lanterns');
    assert.equal(album.track_count, 10);
    assert.ok(r.tracks.every(t => /harbour/i.test(`${t.title} ${t.album} ${t.artist}`)));
    const artists = await call('music_search', { query: 'lantern', types: ['artist'] });
    assert.deepEqual(artists.artists.map(a => a.name), ['The Lanterns']);
    assert.equal(artists.tracks.length, 0);
});

await check('play the album, skip, and now-playing says track 2', async () => {
    const played = await call('music_playback', { action: 'play', context_uri: album.uri, device_id: 'living-room' });
    assert.equal(played.player.track.track_number, 1);
    assert.equal(played.player.device_id, 'living-room');
    const skipped = await call('music_playback', { action: 'next' });
    assert.equal(skipped.player.track.track_number, 2);
    const now = await call('music_now_playing');
    assert.equal(now.player.playing, true);
    assert.equal(now.player.track.album_uri, album.uri);
    assert.equal(now.player.track.track_number, 2);
    assert.equal(now.player.context_uri, album.uri);
    assert.ok(now.devices.find(d => d.id === 'living-room').active);
});

await check('a queued track plays next, then the album goes on', async () => {
    const { tracks } = await call('music_search', { query: 'Smoke Rings', types: ['track'] });
    const q = await call('music_queue', { action: 'add', uri: tracks[0].uri });
    assert.equal(q.queue[0].uri, tracks[0].uri);
    assert.equal(q.queue[1].track_number, 3);
    const got = await call('music_queue', { action: 'get' });
    assert.equal(got.now_playing.track_number, 2);
    assert.equal(got.queue[0].title, 'Smoke Rings');
    assert.equal((await call('music_playback', { action: 'next' })).player.track.title, 'Smoke Rings');
    const after = await call('music_playback', { action: 'next' });
    assert.equal(after.player.track.album_uri, album.uri);
    assert.equal(after.player.track.track_number, 3);
});

await check('pause, volume, shuffle, repeat; bad values name the field', async () => {
    assert.equal((await call('music_playback', { action: 'pause' })).player.playing, false);
    assert.equal((await call('music_playback', { action: 'volume', volume_percent: 30 })).player.volume_percent, 30);
    assert.equal((await call('music_playback', { action: 'repeat', state: 'context' })).player.repeat, 'context');
    assert.match(await callError('music_playback', { action: 'seek', position_ms: 99999999 }), /^position_ms:/);
    assert.match(await callError('music_playback', { action: 'play', context_uri: 'concierge:album:none' }), /^context_uri:/);
});

await check('playlists: list, create, add, get', async () => {
    const { playlists } = await call('music_playlists');
    assert.equal(playlists.length, 3);
    const { playlist } = await call('music_playlists', { action: 'create', name: 'Scenario mix' });
    await call('music_playlists', { action: 'add', playlist_id: playlist.uri, uris: [`concierge:track:harbour-lights-1`, 'concierge:track:blue-hour-2'] });
    const got = await call('music_playlists', { action: 'get', playlist_id: playlist.uri });
    assert.deepEqual(got.tracks.map(t => t.title), ['Low Tide', 'Walking Bass']);
    const played = await call('music_playback', { action: 'play', context_uri: playlist.uri });
    assert.equal(played.player.track.title, 'Low Tide');
});

await close();
done();
