#!/usr/bin/env node
// Video scenarios through the official TS SDK client against `concierge serve --demo`: search,
// details, add a video to Watch later and list it.
import assert from 'node:assert/strict';
import { binaryArg, checker, connectDemo } from './demo_server.mjs';

const binary = binaryArg('scenario_video.mjs');
const { check, done } = checker();
const { call, callError, close } = await connectDemo(binary);

let video;
await check('search by words, newest first; by channel; by date', async () => {
    const { videos } = await call('video_search', { query: 'sourdough' });
    assert.equal(videos.length, 1);
    video = videos[0];
    assert.equal(video.channel, 'Crumb & Crust');
    const byDate = (await call('video_search', { query: 'travel', order: 'date' })).videos;
    assert.ok(byDate.length >= 3);
    for (let i = 1; i < byDate.length; i++) assert.ok(byDate[i - 1].published_at >= byDate[i].published_at);
    const channel = (await call('video_search', { channel: 'Orbit Lab' })).videos;
    assert.equal(channel.length, 3);
    const month = new Date(Date.now() - 31 * 86400000).toISOString().slice(0, 10);
    const recent = (await call('video_search', { published_after: month, max_results: 50 })).videos;
    assert.ok(recent.length > 0 && recent.length < 20);
});

await check('details of several ids, in order; an unknown id names the field', async () => {
    const { videos } = await call('video_details', { ids: [video.id, 'v1008'] });
    assert.deepEqual(videos.map(v => v.id), [video.id, 'v1008']);
    assert.match(videos[0].duration, /^PT/);
    assert.match(await callError('video_details', { ids: ['no-such-video'] }), /^ids:/);
});

await check('add to Watch later and list it; adding twice keeps one', async () => {
    const before = (await call('video_playlists')).playlists.find(p => p.id === 'watch_later');
    assert.equal(before.item_count, 0);
    assert.equal((await call('video_playlists', { action: 'add', playlist_id: 'watch_later', video_ids: [video.id] })).changed, 1);
    assert.equal((await call('video_playlists', { action: 'add', playlist_id: 'watch_later', video_ids: [video.id] })).changed, 0);
    const { videos } = await call('video_playlists', { action: 'items', playlist_id: 'watch_later' });
    assert.deepEqual(videos.map(v => v.id), [video.id]);
    await call('video_playlists', { action: 'remove', playlist_id: 'watch_later', video_ids: [video.id] });
    assert.equal((await call('video_playlists', { action: 'items', playlist_id: 'watch_later' })).videos.length, 0);
});

await close();
done();
